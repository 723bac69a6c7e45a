"""Benefit analyses recorded before issue 11 explain the 以奖代补 as a formula
("以奖代补 = max(0, min(计划 …, 核实 …) − 已拨 …) = … 元"): rewrite that line as the sentence the
service now writes (`subsidies.rules.settle`), from the amounts the analysis stored. Frozen here, as
migrations must be; the tranche breakdown was not stored, so the sentence names the total received."""

from decimal import Decimal

from django.db import migrations


def _yuan(value):
    return f"{Decimal(value):,.2f}"


def _sentence(analysis):
    grant = Decimal(analysis.plan.grant_total)
    received, verified = Decimal(analysis.paid_before), Decimal(analysis.verified_entitlement)
    reward, shortfall = Decimal(analysis.reward), Decimal(analysis.shortfall)
    head = f"补助总额 {_yuan(grant)} 元，" + (f"已兑现 {_yuan(received)} 元" if received else "尚未兑现")
    if analysis.assessment != "active":
        recover = f"已兑现的 {_yuan(received)} 元由村工作队提出收回" if received else "无需收回"
        return f"{head}；经评估未积极主动发展种养殖产业，停止后续扶持，{recover}。"
    if verified >= grant:
        if reward:
            return f"{head}；经评估产业运行良好，以奖代补 {_yuan(reward)} 元。"
        return f"{head}；经评估产业运行良好，补助已全部兑现，不再发放以奖代补。"
    if verified > received:
        return (
            f"{head}；经评估产业运行良好，但按核实的实际规模应享补助 {_yuan(verified)} 元，"
            f"以奖代补 {_yuan(reward)} 元。"
        )
    line = f"{head}；按核实的实际规模只应享补助 {_yuan(verified)} 元，不发放以奖代补"
    return line + (f"，比已兑现的少 {_yuan(shortfall)} 元，报乡镇决定是否收回。" if shortfall else "。")


def _is_old(line):
    return (
        line.startswith("以奖代补 = ")
        or line.startswith("核实应享低于已拨付")
        or line.startswith("不积极主动发展产业：")
    )


def forwards(apps, schema_editor):
    BenefitAnalysis = apps.get_model("subsidies", "BenefitAnalysis")
    for analysis in BenefitAnalysis.objects.select_related("plan").iterator():
        lines = list(analysis.explanation or [])
        if not any(isinstance(line, str) and _is_old(line) for line in lines):
            continue
        kept = []
        for line in lines:
            if _is_old(line):
                continue
            if line.startswith("核实结果："):
                line = "（核实）" + line.removeprefix("核实结果：").rstrip("。") + "。"
            elif not line.startswith("（核实）"):
                line = f"（核实）{line}"
            kept.append(line)
        analysis.explanation = [_sentence(analysis), *kept]
        analysis.save(update_fields=["explanation"])


class Migration(migrations.Migration):
    dependencies = [("subsidies", "0008_policy_recovery_due_days")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
