"""Identity resolution: registry children ↔ enrollment records.

Four steps, in order: `link_prepare` (one row per student number), `link_exact`
(ID equality, one join), `link_probabilistic` (Splink on the residue only) and
`link_resolve` (reviewers' decisions, then one-to-one). Their output is the
`links` table described in docs/dev/interfaces.md; the figures of each tier go to
`ctx.notes["linkage"]` for the manifest.
"""

from yidan.pipeline.context import Step
from yidan.pipeline.link.exact import link_exact
from yidan.pipeline.link.predict import link_probabilistic
from yidan.pipeline.link.prepare import link_prepare
from yidan.pipeline.link.resolve import link_resolve

LINK_STEPS: tuple[Step, ...] = (
    Step("link_prepare", "整理学籍（每个学籍号取最新一条）", link_prepare),
    Step("link_exact", "身份证号精确匹配", link_exact),
    Step("link_probabilistic", "概率匹配（Splink）", link_probabilistic),
    Step("link_resolve", "一对一确认与人工复核结论", link_resolve),
)

__all__ = ["LINK_STEPS", "link_exact", "link_prepare", "link_probabilistic", "link_resolve"]
