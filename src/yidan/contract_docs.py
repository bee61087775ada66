"""Generate docs/contract.md from the contract declarations, so the page cannot drift from the code.

`python -m yidan.contract_docs` rewrites the page; a test fails when the committed page differs
from what this module renders.
"""

from __future__ import annotations

import sys
from pathlib import Path

from yidan.contract import TABLES, Kind, Table
from yidan.contract.codes import FINDING_CODES, STATUSES
from yidan.contract.outputs import EVIDENCE, NEXT_STEPS, OUTPUTS, Output
from yidan.ingest.rules import REJECT_SHAPELESS_IDS
from yidan.ingest.template import column_note

KIND_LABELS: dict[Kind, str] = {
    Kind.TEXT: "文本",
    Kind.ID_NUMBER: "身份证号",
    Kind.STUDENT_NO: "全国学籍号",
    Kind.DATE: "日期",
    Kind.TERM: "学期",
    Kind.ENUM: "代码",
    Kind.ENUM_LIST: "代码（可多个）",
    Kind.DIVISION_CODE: "区划代码（6–12位）",
    Kind.COUNTY_CODE: "县级区划代码（6位）",
    Kind.SCHOOL_CODE: "学校标识码（10位）",
    Kind.AMOUNT: "金额（元）",
    Kind.PHONE: "电话",
    Kind.COUNT: "整数（≥0）",
    Kind.YEAR: "年份（4位）",
}

INTRO = """\
# 数据规范（输入表）

> 本页由 `python -m yidan.contract_docs` 根据 `src/yidan/contract/` 自动生成，请勿手工修改。

## 通用规则
- **文件格式**：CSV（UTF-8、带 BOM 的 UTF-8、GBK/GB18030，自动识别，也可用 `--encoding` 指定）、
  Excel `.xlsx`（表头上方的标题行、说明行自动跳过；所有找到表头的工作表都会读入）、Parquet。
  一张表可以由多个文件组成（例如每县一个）。CSV 的分隔符（`,` 制表符 `;` `|`）按表头行判定，标题行中的标点不影响；
  只用 CR 换行的旧式文件照常读入，行号不变。
- **同一份数据只给一次**：一次比对（或一次检查）的所有输入文件两两比较 SHA-256，内容完全相同的两个文件
  （即使文件名不同、属于不同的表）在读入任何数据之前整体拒绝，并列出这两个文件。
- **编码逐行检查**：每个文件整体判定一种编码，每一行都检查：GBK/GB18030 文件中夹杂的 UTF-8 行、UTF-8 文件中
  夹杂的 GBK 行都带行号整行拒绝，绝不按乱码载入。
- **Excel 的隐藏内容与公式**：隐藏的工作表如果有本表的表头，整个文件拒绝（隐藏表常是旧数据；需要导入请在 Excel 中
  “取消隐藏”，不需要请删除该表）；没有表头的隐藏表（如下拉列表的代码表）跳过。公式单元格没有保存计算结果的行拒绝，
  原因为“公式未计算，请在 Excel 中打开并保存后再导出”。文件损坏或不完整时给出一条中文错误。
- **控制字符**：任何列中含 NUL、退格等不可见控制字符（制表符、换行除外）的行拒绝。
- **表头**：去掉空格、全角字符转半角后匹配；每列可用中文列名或英文别名。不在规范中的列不导入、不参与比对；
  拼错的列名会提示“是否想写……”。缺少的必填列在读任何数据之前一次列出。同一列出现两次会报错。
- **不丢一行**：每一行要么导入，要么被拒绝并给出文件、行号（CSV 为行号，表头算第 1 行；Excel 为工作表行号）、
  列、原值和中文原因（读入多个工作表时，文件写作“路径#工作表名”）。每个文件都核对：读入行数 = 导入行数 + 拒绝行数。
  空行（CSV 中没有内容的行、Excel 中的空白行）不算数据行；只有逗号的行作为“空行”拒绝。
- **身份证号**：全角数字、空格、小写 x 自动规范；15 位旧号补“19”并重算校验位转为 18 位；
  校验位（GB 11643）、出生日期、行政区划代码都正确才算有效（结果列 `<列名>_valid`）。
  被 Excel 转成数字的身份证号（如 4.30124E+17，或末三位为 000 且校验不通过）已丢失数字，整行拒绝，绝不猜测修复。
- **无效身份证号的处理**：所有表中，被 Excel 转成数字的一律拒绝；{shapeless}表中，不是身份证号形状
  （不足 18 位等）的行无法对应到人，拒绝；其余表（以及上述表中仅校验不通过的）保留并标记为无效，不丢弃。
- **日期**：2020-09-01、2020/9/1、20200901、2020年9月1日、2020.09.01、Excel 日期序号（如 44075）均可；
  无法识别的日期整行拒绝。年份须在 1900—2100 之间。文本中的 5 位数字只在 21916—73050 之间（1960—2099年）
  读作 Excel 日期序号，其余（如 20201，多半是 2020 后多打了一位）拒绝；Excel 中设为日期格式的单元格不受此限。
- **不可能在将来的日期**：{past}晚于导入当天的拒绝；例外：建档立卡的出生日期在将来而身份证号有效时不拒收，
  年龄按身份证号中的出生日期计算，并报信息不一致（K08）
  （以导入当天为准，而不是学期开始日：学期开始后出生的儿童是真实存在的）。
- **学期**：2020秋、2021春，或 2020-2021学年第一学期（= 2020秋）、第二学期（= 2021春）。
- **金额**：单位为元，最多两位小数，不能为负。只接受一种写法：`1250`、`1250.5`、`1250.50`、`1,250.00`
  （逗号只能作千位分隔，每个逗号后恰好三位数字）；`62,50`、`1.250,00`、`1,25`、`1.250` 这类含义不明确的写法
  拒绝并说明原因，绝不换算。
- **区划代码**：区划代码和县级区划代码的前 6 位必须在全国行政区划代码表中（python-stdnum 的 `cn/loc.dat`，
  含已撤销的历史代码）；999999、000000 等拒绝。
- **代码列**：必须是列出的取值之一，否则拒绝并提示最接近的取值。
- **模板**：`yidan template --out 文件夹` 为每张表生成 Excel 模板；`yidan check --table 表名 文件…` 检查文件。
"""


def render_table(table: Table) -> str:
    lines = [
        f"## {table.name} — {table.label}",
        "",
        table.description,
        "",
        "| 列名 | 英文别名 | 必填 | 类型 | 说明 |",
        "|---|---|---|---|---|",
    ]
    for col in table.columns:
        note = column_note(col).split("；", 1)[1] if "；" in column_note(col) else ""
        lines.append(f"| {col.header} | `{col.alias}` | {'是' if col.required else '否'} | "
                     f"{KIND_LABELS[col.kind]} | {note.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


TYPE_LABELS = {"string": "文本", "date": "日期", "int32": "整数", "int64": "整数", "float64": "小数",
               "boolean": "是/否", "decimal(14, 2)": "金额（元）", "decimal(18, 2)": "金额（元）"}

OUTPUTS_INTRO = """\
# 比对结果（输出表）

每次比对写出一个结果目录：`manifest.json` 和下列 Parquet 文件。各表的列由 `src/yidan/contract/outputs.py`
声明：比对按声明写出每一列（类型一致、顺序一致），读取结果目录时缺少声明的列即报错；
一单工作簿、网页和抽样名单只读这里声明的列。
"""


def render_output(output: Output) -> str:
    lines = [f"## {output.name}.parquet — {output.label}", "", output.description, "",
             "| 列 | 中文名 | 类型 | 说明 |", "|---|---|---|---|"]
    for c in output.columns:
        lines.append(f"| `{c.name}` | {c.label} | {TYPE_LABELS.get(c.type, c.type)} | {c.description.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def render_evidence() -> str:
    lines = ["## 佐证（findings.evidence）", "",
             "JSON 对象；网页、工作簿和抽样名单用同一个函数按下列中文名显示，空的部分不显示。", "",
             "| 键 | 中文名 | 包含 |", "|---|---|---|"]
    for f in EVIDENCE:
        inner = "、".join(f"`{s.key}` {s.label}" for s in f.fields)
        lines.append(f"| `{f.key}` | {f.label} | {inner} |")
    lines += ["", "## 就学状态与下一步", "", "| 就学状态代码 | 显示为 |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in STATUSES.items()]
    lines += ["", "| 问题编码 | 问题类型 | 下一步（findings.next_step） |", "|---|---|---|"]
    lines += [f"| {c} | {FINDING_CODES[c].label} | {step} |" for c, step in NEXT_STEPS.items()]
    return "\n".join(lines) + "\n"


def render() -> str:
    """The whole page, as committed in docs/contract.md."""
    shapeless = "、".join(f"{TABLES[n].label}（{n}）" for n in TABLES if n in REJECT_SHAPELESS_IDS)
    past = "、".join(dict.fromkeys(c.header for t in TABLES.values() for c in t.columns if c.past))
    inputs = (INTRO.replace("{shapeless}", shapeless).replace("{past}", past) + "\n"
              + "\n".join(render_table(t) for t in TABLES.values()))
    outputs = OUTPUTS_INTRO + "\n" + "\n".join(render_output(o) for o in OUTPUTS.values())
    return inputs + "\n" + outputs + "\n" + render_evidence() + "\n" + render_indicators()


def render_indicators() -> str:
    """The declared indicators with their default targets (yidan.reports.indicator_defs)."""
    from yidan.contract.indicators import INDICATORS, target_of

    lines = ["## 指标（由数据计算，`yidan indicators`）", "",
             "每项指标按县计算，市州、全省为所辖县分子、分母之和；目标值和年份可在 yidan.toml 的 "
             "`[indicators.targets]` 中修改。缺少所需输入表的指标不计算，结果中写明原因。", "",
             "| 代码 | 指标 | 分子 | 分母 | 必需的输入表 | 默认目标 | 依据 |", "|---|---|---|---|---|---|---|"]
    for i in INDICATORS:
        value, year = target_of(i.code)
        target = (f"{value:.0%}" if i.is_rate else f"{value:g}{i.unit}") + f"（{year}年）"
        need = "、".join(f"`{t}`" for t in i.tables) or "—"
        lines.append(f"| `{i.code}` | {i.name} | {i.numerator} | {i.denominator or '—'} | {need} | {target} | "
                     f"{i.source} |")
    return "\n".join(lines) + "\n"


def default_path() -> Path:
    return Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else default_path()
    path.write_text(render(), encoding="utf-8")
    print(f"已写入 {path}")


if __name__ == "__main__":
    main()
