"""The human-readable run summary (summary.md), in Chinese or English."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ringfinder import i18n

if TYPE_CHECKING:
    from ringfinder.load import LoadReport
    from ringfinder.pipeline import RunResult

MESSAGES = {
    "summary.title": {"zh": "ringfinder 线索摘要", "en": "ringfinder run summary"},
    "summary.load": {"zh": "数据加载", "en": "Data loaded"},
    "summary.load_header": {
        "zh": "| 表 | 读取 | 加载 | 拒绝 |",
        "en": "| table | read | loaded | rejected |",
    },
    "summary.reused": {
        "zh": "输入文件自本工作区第 {load_id} 次加载（{at}）以来未变，未重新读取，"
        "沿用该次加载的数据和统计（--reload 可重新读取）。",
        "en": "The files are unchanged since load {load_id} of this workspace ({at}): not "
        "read again; that load's rows and figures stand (--reload reads them again).",
    },
    "summary.missing": {
        "zh": "缺少可选表：{tables}",
        "en": "Optional tables not present: {tables}",
    },
    "summary.detectors": {"zh": "检测器", "en": "Detectors"},
    "summary.det_ran": {
        "zh": "- {name}：发现 {findings} 处，用时 {seconds} 秒",
        "en": "- {name}: {findings} findings in {seconds} s",
    },
    "summary.det_skipped": {
        "zh": "- {name}：未运行（缺少 {missing}）",
        "en": "- {name}: not run (needs {missing})",
    },
    "summary.leads": {"zh": "线索（共 {n} 条）", "en": "Leads ({n})"},
    "summary.lead": {
        "zh": "### {rank}. {lead_id} · {pattern} · 评分 {score}",
        "en": "### {rank}. {lead_id} · {pattern} · score {score}",
    },
    "summary.lead_money": {
        "zh": "涉案金额 {amount} 元，其中基金支付 {fund} 元；{first} 至 {last}",
        "en": "Money involved (涉案金额) {amount} yuan, of which fund {fund} yuan; "
        "{first} to {last}",
    },
    "summary.lead_members": {
        "zh": "人员 {persons} 名，医保卡 {cards} 张，医师 {doctors} 名，"
        "医疗机构 {institutions} 家，药店 {pharmacies} 家；证据 {claims} 条",
        "en": "{persons} persons, {cards} cards, {doctors} doctors, "
        "{institutions} institutions, {pharmacies} pharmacies; {claims} evidence records",
    },
    "summary.rules": {
        "zh": "现行筛查规则（单笔报销≥1万元、年报销≥4次、住院/门特费用前100名、月就诊≥15次）"
        "单独能发现 {caught} 条线索（至少一半成员被规则命中），另有 {partial} 条只命中部分成员，"
        "其余 {missed} 条仅靠关系图发现。",
        "en": "The regulators' screening rules alone (single reimbursement >= 10,000 yuan, "
        ">= 4 reimbursements a year, top 100 by inpatient / special-outpatient cost, "
        ">= 15 visits a month) would have caught {caught} of these leads (half or more of "
        "the members flagged); {partial} more only in part; {missed} only the graph finds.",
    },
    "summary.none": {"zh": "未发现线索。", "en": "No leads found."},
    "summary.below": {
        "zh": "另有 {n} 个可疑群体评分低于 {min_score}，未列为线索（--min-score 0 可全部列出）。",
        "en": "{n} more groups scored below {min_score} and are not raised "
        "(--min-score 0 lists them).",
    },
    "summary.held": {
        "zh": "{n} 条已排除（dismissed）且未扩大的线索未再提出。",
        "en": "{n} dismissed leads that did not grow are not raised again.",
    },
}
i18n.register(MESSAGES)


def reused_line(report: LoadReport, lang: str) -> str:
    """The sentence saying a load was not read again (its inputs were unchanged)."""
    return i18n.text("summary.reused", lang, load_id=report.reused_load, at=report.reused_at)


#: How many leads the summary describes in full.
SUMMARY_TOP = 50


def render_summary(result: RunResult, lang: str) -> str:
    """Markdown summary of a run: what was loaded, what ran, the leads with reasons."""
    t = i18n.text
    lines = [f"# {t('summary.title', lang)}", ""]
    if result.load is not None:
        lines += [f"## {t('summary.load', lang)}", "", t("summary.load_header", lang)]
        lines.append("|---|---:|---:|---:|")
        for tr in result.load.tables:
            lines.append(f"| {tr.table} | {tr.read:,} | {tr.loaded:,} | {tr.rejected:,} |")
        if result.load.reused_load is not None:
            lines += ["", reused_line(result.load, lang)]
        if result.load.missing_optional:
            lines += ["", t("summary.missing", lang, tables=result.load.missing_optional)]
        lines.append("")
    lines += [f"## {t('summary.detectors', lang)}", ""]
    for d in result.detectors:
        if d.ran:
            lines.append(
                t(
                    "summary.det_ran",
                    lang,
                    name=d.name,
                    findings=d.findings,
                    seconds=round(d.seconds, 2),
                )
            )
        else:
            lines.append(t("summary.det_skipped", lang, name=d.name, missing=list(d.missing)))
    lines += ["", f"## {t('summary.leads', lang, n=len(result.leads))}", ""]
    if not result.leads:
        lines.append(t("summary.none", lang))
    elif result.rule_coverage is not None:
        lines += [rules_line(result, lang), ""]
    if result.below_min_score:
        lines += [
            t("summary.below", lang, n=result.below_min_score, min_score=result.min_score),
            "",
        ]
    if result.held_back:
        lines += [t("summary.held", lang, n=result.held_back), ""]
    for rank, lead in enumerate(result.leads[:SUMMARY_TOP], 1):
        lines += [
            t(
                "summary.lead",
                lang,
                rank=rank,
                lead_id=lead.lead_id,
                pattern=lead.pattern,
                score=lead.score,
            ),
            "",
            t(
                "summary.lead_money",
                lang,
                amount=lead.amount_total,
                fund=lead.fund_amount,
                first=lead.first_seen,
                last=lead.last_seen,
            ),
            t(
                "summary.lead_members",
                lang,
                claims=len(lead.claims),
                **{k: len(v) for k, v in lead.members.items()},
            ),
            "",
            *(f"- {i18n.render(r, lang)}" for r in lead.reasons),
            "",
        ]
    return "\n".join(lines) + "\n"


def rules_line(result: RunResult, lang: str) -> str:
    """One line: how many leads the rule baseline alone would have caught."""
    c = result.rule_coverage
    assert c is not None
    return i18n.text(
        "summary.rules",
        lang,
        caught=c.caught,
        partial=c.touched - c.caught,
        missed=c.leads - c.touched,
    )
