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
}

INTRO = """\
# 数据规范（输入表）

> 本页由 `python -m yidan.contract_docs` 根据 `src/yidan/contract/` 自动生成，请勿手工修改。

## 通用规则
- **文件格式**：CSV（UTF-8、带 BOM 的 UTF-8、GBK/GB18030，自动识别，也可用 `--encoding` 指定）、
  Excel `.xlsx`（表头上方的标题行、说明行自动跳过；所有找到表头的工作表都会读入）、Parquet。
  一张表可以由多个文件组成（例如每县一个）。
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
  无法识别的日期整行拒绝。
- **学期**：2020秋、2021春，或 2020-2021学年第一学期（= 2020秋）、第二学期（= 2021春）。
- **金额**：单位为元，最多两位小数，不能为负。
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
    inputs = INTRO.replace("{shapeless}", shapeless) + "\n" + "\n".join(render_table(t) for t in TABLES.values())
    outputs = OUTPUTS_INTRO + "\n" + "\n".join(render_output(o) for o in OUTPUTS.values())
    return inputs + "\n" + outputs + "\n" + render_evidence()


def default_path() -> Path:
    return Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else default_path()
    path.write_text(render(), encoding="utf-8")
    print(f"已写入 {path}")


if __name__ == "__main__":
    main()
