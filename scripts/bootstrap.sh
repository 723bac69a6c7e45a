# Shared by scripts/run and scripts/test (sourced): find Python ≥ 3.12, get uv, sync the venv.
# Installs only what is missing; says plainly what it cannot install.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export UV_PYTHON_DOWNLOADS=never   # this project never downloads a Python; it uses the machine's
export UV_LINK_MODE=copy

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31m错误：%s\033[0m\n' "$*" >&2; exit 1; }

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.14 python3; do
    [ -n "$candidate" ] || continue
    if "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then
      "$candidate" -c 'import sys; print(sys.executable)'
      return 0
    fi
  done
  return 1
}

PY=$(find_python) || die "需要 Python ≥ 3.12（未找到）。请安装 python3.12 或更高版本，或用 PYTHON=/path/to/python 指定。"

find_uv() {
  if uv --version >/dev/null 2>&1; then echo uv; return 0; fi
  if [ -x .tools/bin/uv ]; then echo .tools/bin/uv; return 0; fi
  return 1
}

UV=$(find_uv) || {
  say "安装 uv（到 .tools/，不影响系统）"
  "$PY" -m venv .tools >/dev/null || die "无法用 $PY 创建虚拟环境（Debian 上请安装 python3-venv）。"
  .tools/bin/python -m pip install --quiet --disable-pip-version-check uv || die "无法从 PyPI 安装 uv。"
  UV=.tools/bin/uv
}

sync_venv() {
  say "同步依赖（uv sync $*）"
  "$UV" sync --frozen --python "$PY" "$@" >&2
}

# Debian packages a feature needs; installs them when we may (root or sudo), else names them.
need_debian_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "缺少系统软件包：${missing[*]}（非 Debian/Ubuntu 系统，请手动安装对应软件）。"
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || die "缺少系统软件包：${missing[*]}。请以 root 运行：apt-get install ${missing[*]}"
    sudo="sudo"
  fi
  say "安装系统软件包：${missing[*]}"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2 \
    || die "安装失败：${missing[*]}"
}

# Like need_debian_packages, but only for nicer output (e.g. Chinese PDF fonts): warn and go on.
want_debian_packages() {
  ( need_debian_packages "$@" ) || say "提示：未能安装 $*；打印的 PDF 可能缺少中文字体或生成较慢。"
}
