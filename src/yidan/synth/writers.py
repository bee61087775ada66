"""Files in exactly the contract's formats: GB18030 and UTF-8 CSV, XLSX with a title row, Parquet.

CSV goes through Arrow's writer (quoting only where needed), then, for GB18030, through Python's
streaming codec in blocks (byte-exact; DuckDB cannot read GB18030 offline, which is the point).
XLSX is written by XlsxWriter in constant-memory mode with every cell as text, the way county
staff keep IDs. The truth is Parquet; generated.json says what is where.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import xlsxwriter

from yidan.contract.codes import CATEGORIES, POVERTY_STATUSES
from yidan.synth.aid import AUDIT_TERMS, RUN_TERM, catalog, grade_labels, policies_text
from yidan.synth.enrollment import PersonColumns, coded
from yidan.synth.faults import CASES
from yidan.synth.ids import ymd
from yidan.synth.people import DISABILITIES, ROLE_CHILD, ROLE_HEAD, ROLE_SPOUSE, Registry

_BLOCK = 1 << 24


def write_csv(table: pa.Table, path: Path, encoding: str = "utf-8") -> None:
    opts = pacsv.WriteOptions(quoting_style="needed")
    if encoding == "utf-8":
        pacsv.write_csv(table, str(path), write_options=opts)
        return
    tmp = path.with_name(f".{path.name}.utf8")  # transcoded in blocks: never the whole file in memory
    try:
        pacsv.write_csv(table, str(tmp), write_options=opts)
        with open(tmp, encoding="utf-8", newline="") as src, open(path, "w", encoding=encoding, newline="") as dst:
            while chunk := src.read(_BLOCK):
                dst.write(chunk)
    finally:
        tmp.unlink(missing_ok=True)


def write_xlsx(table: pa.Table, path: Path, title: str) -> None:
    """Title row, header row, then the data as text cells (row 3 is the first data row)."""
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    wb.set_properties({"created": datetime(2021, 3, 1)})  # same seed, same bytes
    ws = wb.add_worksheet("Sheet1")
    ws.write_string(0, 0, title, wb.add_format({"bold": True}))
    for j, name in enumerate(table.column_names):
        ws.write_string(1, j, name)
    cols = [c.to_pylist() for c in table.columns]
    for i in range(table.num_rows):
        for j, col in enumerate(cols):
            v = col[i]
            if v is not None and v != "":
                ws.write_string(i + 2, j, str(v))
    wb.close()


def iso_dates(dates: np.ndarray) -> pa.Array:
    """2009-03-15 (null for NaT); Arrow's cast is far faster than strftime."""
    return pc.cast(pa.array(dates), pa.string())


def date_text(rng: np.random.Generator, dates: np.ndarray, other_forms: float) -> pa.Array:
    """ISO dates, with a share written 2009/3/15 or 20090315 (legal forms real exports use)."""
    iso = iso_dates(dates)
    if other_forms <= 0:
        return pc.fill_null(iso, "")
    u = rng.random(len(dates))
    compact = pc.replace_substring(iso, "-", "")
    y, mo, d = ymd(dates)
    slash = pc.binary_join_element_wise(pc.cast(pa.array(y), pa.string()), pc.cast(pa.array(mo), pa.string()),
                                        pc.cast(pa.array(d), pa.string()), "/")
    out = pc.if_else(pa.array(u < other_forms / 2), slash, pc.if_else(pa.array(u < other_forms), compact, iso))
    return pc.fill_null(out, "")


RELATIONS = ("户主", "配偶", "子", "女", "父亲", "母亲")
_PLACE_HEADS = "青石白云桃花龙潭高坪大坝枫木黄金杉木龙山松柏茶园河西清水马鞍长乐"
_TOWN_TAILS = ("镇", "乡")
_VILLAGE_TAILS = ("村", "村", "村", "社区")


def place_names(codes: np.ndarray, tails: tuple[str, ...], salt: int) -> list[str]:
    """Made-up names for township or village codes, fixed by the code alone (no random draw, so the
    rest of the generated set is unchanged): two characters of a place plus 镇/乡 or 村/社区."""
    pairs = len(_PLACE_HEADS) // 2
    out = []
    for code in codes.tolist():
        k = (int(code) * 2654435761 + salt) % (pairs * len(tails) * 7)
        head = _PLACE_HEADS[2 * (k % pairs): 2 * (k % pairs) + 2]
        out.append(f"{head}{tails[(k // pairs) % len(tails)]}" if salt == 0 else
                   f"{head}{'一二三四五六七'[k // (pairs * len(tails)) % 7]}{tails[(k // pairs) % len(tails)]}")
    return out


def registry_table(rng: np.random.Generator, reg: Registry, ids: pa.Array,
                   birth: np.ndarray | None = None) -> pa.Table:
    """The registry file's columns; `birth` is the birth-date column as written (default: the truth)."""
    n = len(reg)
    relation = np.select([reg.role == ROLE_HEAD, reg.role == ROLE_SPOUSE, (reg.role == ROLE_CHILD) & reg.male,
                          reg.role == ROLE_CHILD, reg.male], [0, 1, 2, 3, 4], 5)
    head_row = np.flatnonzero(reg.role == ROLE_HEAD)
    head_name = reg.name.take(pa.array(head_row[reg.household]))
    village_codes, village_idx = np.unique(reg.village, return_inverse=True)
    village_text = pc.cast(pa.array(village_codes), pa.string())
    town_codes = village_codes // 1000
    hh_no = pc.utf8_lpad(pc.cast(pa.array(reg.household % 100000), pa.string()), 5, "0")
    pov = np.where(reg.category == 0, rng.choice(3, size=n, p=(0.08, 0.88, 0.04)), 3)
    phone = 13_000_000_000 + rng.integers(0, 6_999_999_999, size=n)
    has_phone = reg.role != ROLE_CHILD
    return pa.table({
        "身份证号": ids,
        "姓名": reg.name,
        "性别": coded(["女", "男"], reg.male),
        "出生日期": date_text(rng, reg.birth if birth is None else birth, 0.05),
        "户编号": pc.binary_join_element_wise(village_text.take(pa.array(village_idx)), hh_no, ""),
        "与户主关系": coded(list(RELATIONS), relation),
        "户主姓名": head_name,
        "户籍地区划代码": coded(village_text, village_idx),
        "乡镇名称": coded(place_names(town_codes, _TOWN_TAILS, 0), village_idx),
        "村名称": coded(place_names(village_codes, _VILLAGE_TAILS, 1), village_idx),
        "人员类别": coded(list(CATEGORIES), reg.category),
        "脱贫状态": coded(list(POVERTY_STATUSES) + [""], pov),
        "认定日期": date_text(rng, reg.recognized, 0.02),
        "退出日期": date_text(rng, reg.removed, 0.0),
        "残疾类别": coded(list(DISABILITIES), reg.disability),
        "联系电话": pc.if_else(pa.array(has_phone), pc.cast(pa.array(phone), pa.string()), ""),
    })


def aid_table(rng: np.random.Generator, pays: dict[str, np.ndarray], true_id: pa.Array, payee_names: pa.Array,
              student_no: pa.Array, in_province: np.ndarray) -> pa.Table:
    """The aid file; `payee_names` holds each payment's payee name (payees outside the registry too)."""
    p = pa.array(pays["person"])
    cents = pays["cents"]
    amount = pc.binary_join_element_wise(pc.cast(pa.array(cents // 100), pa.string()),
                                         pc.utf8_lpad(pc.cast(pa.array(cents % 100), pa.string()), 2, "0"), ".")
    start = np.array([np.datetime64(t.start()) for t in AUDIT_TERMS])[pays["term"]]
    paid_on = start + (30 + rng.integers(0, 60, size=len(cents))).astype("timedelta64[D]")
    # a late payment: 10–40 days after its programme's window (aid.Programme.window)
    window = np.array([p.window or 0 for p in catalog()], dtype=np.int64)[pays["programme"]]
    late = pays["late"].astype(bool)
    paid_on[late] = start[late] + (window[late] + 10 + rng.integers(0, 30, size=int(late.sum()))).astype(
        "timedelta64[D]")
    t = pa.table({
        "身份证号": true_id.take(p),
        "姓名": payee_names,
        "全国学籍号": pc.if_else(pa.array(in_province[pays["person"]]), student_no.take(p), ""),
        "资助项目代码": coded([c.code for c in catalog()], pays["programme"]),
        "学期": coded([t.label for t in AUDIT_TERMS], pays["term"]),
        "金额": amount,
        "发放地区划代码": pc.cast(pa.array(pays["payer"]), pa.string()),
        "发放日期": iso_dates(paid_on),
        "档次": pa.array(grade_labels(pays["programme"], pays["person"]), pa.string()),
    })
    return t.take(pa.array(np.lexsort((pays["person"], pays["payer"], pays["term"]))))


def write_all(gs, p, province, reg, reg_ids, ccodes, enr, oop, ver, pays, true_id, enr_cols,  # noqa: ANN001 - plain data
              truth: dict[str, pa.Table], faults: dict[str, int], reg_birth: np.ndarray | None = None,
              extra: dict[str, pa.Table] | None = None,
              targets: pa.Table | None = None, payee_names: pa.Array | None = None) -> None:
    out = gs.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth").mkdir(exist_ok=True)
    rng = np.random.default_rng(gs.seed + 1)  # formatting choices only
    n = len(reg)
    county = "、".join(province.names[int(np.flatnonzero(province.codes == c)[0])] for c in ccodes[:3])
    county += "等" if len(ccodes) > 3 else ""
    reg_t = registry_table(rng, reg, reg_ids, reg_birth)
    in_prov = np.zeros(len(true_id), dtype=bool)  # payees outside the registry: no 学籍号 on the payment
    in_prov[np.unique(enr_person_rows(enr, enr_cols, n))] = True
    names = payee_names if payee_names is not None else reg.name.take(pa.array(pays["person"]))
    aid_t = aid_table(rng, pays, true_id, names, enr_cols.student_no, in_prov)
    pol_path = out / "policies.csv"
    pol_path.write_text(policies_text(), encoding="utf-8")
    files: dict[str, list[str]] = {"policies": ["policies.csv"]}

    write_csv(reg_t, out / "registry.csv", "gb18030")
    files["registry"] = ["registry.csv"]
    if p.enrollment_format == "xlsx":
        write_xlsx(enr, out / "enrollment.xlsx", f"{province.province_name}{county}学生学籍信息（2020秋、2021春）")
        files["enrollment"] = ["enrollment.xlsx"]
    else:
        write_csv(enr, out / "enrollment.csv")
        files["enrollment"] = ["enrollment.csv"]
    write_xlsx(oop, out / "out_of_province.xlsx", "全国学籍系统跨省比对结果（省外学籍）")
    write_xlsx(ver, out / "verifications.xlsx", f"{county}控辍保学核实结果")
    files["out_of_province"], files["verifications"] = ["out_of_province.xlsx"], ["verifications.xlsx"]
    write_csv(aid_t, out / "aid.csv")
    files["aid"] = ["aid.csv"]
    for name, t in (extra or {}).items():  # schools, classes, population: the indicators' optional inputs
        write_csv(t, out / f"{name}.csv")
        files[name] = [f"{name}.csv"]
    if targets is not None:
        write_csv(targets, out / "targets.csv")
        files["targets"] = ["targets.csv"]
    parquet: dict[str, str] = {}
    if p.parquet:
        for name, t in (("registry", reg_t), ("enrollment", enr), ("aid", aid_t)):
            # no Arrow schema in the file: readers see plain text columns, as in the CSV
            pq.write_table(t, out / f"{name}.parquet", compression="zstd", store_schema=False)
            parquet[name] = f"{name}.parquet"
    for name, t in truth.items():
        pq.write_table(t, out / "truth" / f"{name}.parquet")

    gs.files = files
    gs.rows = {"registry": reg_t.num_rows, "enrollment": enr.num_rows, "out_of_province": oop.num_rows,
               "verifications": ver.num_rows, "aid": aid_t.num_rows, "policies": len(policies_text().splitlines()) - 1,
               **{name: t.num_rows for name, t in (extra or {}).items()}}
    gs.faults = faults
    meta = {
        "preset": gs.preset, "seed": gs.seed, "run_term": RUN_TERM.label,
        "audit_terms": [t.label for t in AUDIT_TERMS], "province": province.province_name,
        "counties": [str(c) for c in ccodes], "files": files,
        "parquet_copies": parquet,
        "parquet_note": "Parquet 文件与同名 CSV 内容相同，只需读取其一（大规模时读 Parquet 更快）" if parquet else "",
        "encodings": {"registry.csv": "gb18030", "enrollment.csv": "utf-8", "aid.csv": "utf-8"},
        "title_rows": {"enrollment.xlsx": 1, "out_of_province.xlsx": 1, "verifications.xlsx": 1},
        "rows": gs.rows, "faults": faults, "rates": gs.rates,
        "cases": {c.tag: c.label for c in CASES if c.pool},
        "truth": {k: f"truth/{k}.parquet" for k in truth},
    }
    (out / "generated.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")


def enr_person_rows(enr: pa.Table, enr_cols: PersonColumns, n: int) -> np.ndarray:
    """Registry rows that have an in-province student number (G or L) in the enrollment file."""
    sno = enr_cols.student_no.slice(0, n)
    present = pc.is_in(sno, value_set=pc.unique(enr["全国学籍号"]))
    return np.flatnonzero(np.asarray(present.to_numpy(zero_copy_only=False), dtype=bool))

