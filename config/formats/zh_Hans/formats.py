# Amounts read 2,500.00 on every page and sheet, as in the plan's own tables
# (Django's zh_Hans format has no thousands grouping).
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
USE_THOUSAND_SEPARATOR = False  # grouping only where a template asks for it (floatformat:"2g")
