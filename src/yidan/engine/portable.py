"""Ibis expressions that give the same result on DuckDB and Spark where the obvious one does not.

Each helper replaces one construct measured to differ (docs/dev/spark-notes.md):

* `ordered_concat` — `group_concat(..., order_by=)` does not compile on PySpark in Ibis 12.
* `mix_order` — `x.hash()` is DuckDB's 64-bit hash on one engine and Spark's 32-bit
  murmur3 on the other, so "the first N by hash" picks different rows.
* `round_half_up` / `number_text` — `round(x, 2)` rounds the binary value on DuckDB and the
  decimal text on Spark (1.005 → 1.0 vs 1.01), and `-0.0` prints differently.
"""

from __future__ import annotations

from typing import Any

import ibis

# A 31-bit prime and a multiplier below it: products stay far below 2**63, so no engine
# overflows (Spark's ANSI mode would raise), and the mix is identical everywhere.
_P = 2_147_483_647
_A = 48_271
# joins the tagged values; a control character that never occurs in names or readings
_UNIT = "\x1f"


def ordered_concat(value: Any, order: Any, sep: str, *, where: Any = None, width: int = 6) -> Any:
    """`value.group_concat(sep, where=where, order_by=order)` that also compiles on Spark.

    `order` is a non-negative integer below 10**width (a character position, say). Each value
    is collected with its zero-padded position in front, the list is sorted as text (the same
    on both engines), joined, and the positions are cut out again. No lambdas: Ibis writes
    `x -> …` for array lambdas, which DuckDB 2.0 refuses by default. NULL values are skipped
    and a group with nothing to join gives NULL, as group_concat does.
    """
    keep = value.notnull() if where is None else (where & value.notnull())
    tagged = order.cast("int64").cast("string").lpad(width, "0").concat(value.cast("string"))
    items = tagged.collect(where=keep)
    joined = items.sort().join(_UNIT)
    plain = joined.re_replace(f"^[0-9]{{{width}}}", "").re_replace(
        f"{_UNIT}[0-9]{{{width}}}", sep.replace("\\", "\\\\").replace("$", "\\$")
    )
    return ibis.ifelse(items.length() > 0, plain, ibis.null("string"))


def mix_order(key: Any) -> Any:
    """A well-spread, engine-independent sort key for an integer column (a portable `hash()`).

    Two rounds of a Lehmer step modulo the prime 2**31-1; for sampling "any N rows" the same
    way on every engine.
    """
    x = (key.cast("int64") % _P + _P) % _P
    x = (x * _A + 12_345) % _P
    return (x * _A + 67_890) % _P


def round_half_up(x: Any, digits: int = 2) -> Any:
    """Round a float to `digits` decimals, halves away from zero, the same on every engine.

    Works on the IEEE product x·10^d (floor(x·10^d + ½)), computed the same on every engine:
    1.005·100 is 100.4999… so 1.005 gives 1.0 on DuckDB and Spark alike; -0.001 gives 0.0, not -0.0.
    """
    scale = 10**digits
    scaled = x.cast("float64") * scale
    units = ibis.ifelse(scaled >= 0, (scaled + 0.5).floor(), -((-scaled + 0.5).floor()))
    return ibis.ifelse(units == 0, ibis.literal(0.0), units / scale)


def number_text(x: Any, digits: int = 2) -> Any:
    """A float as fixed-point text with `digits` decimals ('0.97', '-3.50'); NULL stays NULL.

    Built from integers, so it does not depend on how an engine prints doubles
    (Spark switches to '1.0E7' style for large and tiny values, DuckDB does not).
    """
    scale = 10**digits
    scaled = x.cast("float64") * scale
    units = ibis.ifelse(scaled >= 0, (scaled + 0.5).floor(), -((-scaled + 0.5).floor())).cast("int64")
    magnitude = units.abs()
    whole = (magnitude // scale).cast("string")
    frac = (magnitude % scale).cast("string").lpad(digits, "0")
    sign = ibis.ifelse(units < 0, "-", "")
    return sign.concat(whole, ".", frac) if digits else sign.concat(whole)
