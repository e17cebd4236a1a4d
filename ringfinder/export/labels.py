"""Words printed in case packets and the offline report, in Chinese and English."""

from __future__ import annotations

from typing import Any

from ringfinder import i18n

MESSAGES: dict[str, dict[str, str]] = {
    # titles and sections
    "export.title": {"zh": "线索概要", "en": "Lead summary (线索概要)"},
    "export.packet": {"zh": "案件材料", "en": "Case packet"},
    "export.sec.summary": {"zh": "一、线索概要", "en": "1. Summary"},
    "export.sec.reasons": {"zh": "二、可疑理由及数据", "en": "2. Reasons and figures"},
    "export.sec.indicators": {
        "zh": "三、虚构/故意证据与一般违规的区分",
        "en": "3. Evidence of fabrication or intent, apart from billing-rule breaches",
    },
    "export.sec.members": {"zh": "四、涉案人员及机构", "en": "4. Members and their roles"},
    "export.sec.pictures": {"zh": "五、时间线与关系图", "en": "5. Timeline and network"},
    "export.sec.evidence": {"zh": "六、证据明细", "en": "6. Evidence records"},
    "export.sec.marks": {"zh": "七、核查记录", "en": "7. Review history"},
    "export.sec.manifest": {"zh": "文件校验", "en": "File hashes"},
    # summary fields
    "export.f.lead_id": {"zh": "线索编号", "en": "Lead id"},
    "export.f.pattern": {"zh": "线索类型", "en": "Pattern"},
    "export.f.score": {"zh": "可疑评分", "en": "Score"},
    "export.f.rank": {"zh": "本批次排名", "en": "Rank in run"},
    "export.f.run": {"zh": "筛查批次", "en": "Run"},
    "export.f.status": {"zh": "核查状态", "en": "Review status"},
    "export.f.period": {"zh": "涉案期间", "en": "Period"},
    "export.f.persons": {"zh": "涉及参保人", "en": "Persons"},
    "export.f.cards": {"zh": "涉及医保卡", "en": "Cards"},
    "export.f.doctors": {"zh": "涉及医师", "en": "Doctors"},
    "export.f.institutions": {"zh": "涉及医疗机构", "en": "Institutions"},
    "export.f.pharmacies": {"zh": "涉及药店", "en": "Pharmacies"},
    "export.f.evidence": {"zh": "证据记录", "en": "Evidence records"},
    "export.f.amount": {"zh": "涉案金额（元）", "en": "Money involved 涉案金额 (yuan)"},
    "export.f.fund": {"zh": "其中基金支付（元）", "en": "of which paid by the fund (yuan)"},
    "export.f.threshold": {
        "zh": "移送公安标准（元）",
        "en": "Transfer-to-police threshold 移送公安 (yuan)",
    },
    "export.f.transfer": {"zh": "是否达到移送标准", "en": "Transfer to the police?"},
    "export.f.transfer_yes": {
        "zh": "是：涉案金额{amount}元，达到{threshold}元移送标准",
        "en": "yes: {amount} yuan involved, at or above the {threshold}-yuan threshold",
    },
    "export.f.transfer_no": {
        "zh": "否：涉案金额{amount}元，未达{threshold}元移送标准",
        "en": "no: {amount} yuan involved, below the {threshold}-yuan threshold",
    },
    "export.f.fund_vs": {
        "zh": "基金支付{fund}元{cmp}{threshold}元",
        "en": "fund paid {fund} yuan, {cmp} the {threshold}-yuan threshold",
    },
    "export.cmp.ge": {"zh": "达到", "en": "at or above"},
    "export.cmp.lt": {"zh": "低于", "en": "below"},
    "export.f.generated": {"zh": "生成时间", "en": "Generated"},
    "export.f.identities": {"zh": "身份信息", "en": "Identities"},
    "export.f.identities_pseudo": {
        "zh": "已假名化（仅编号与假名，不含真实身份）",
        "en": "pseudonymised (ids and pseudonyms only, no real identities)",
    },
    "export.f.identities_real": {
        "zh": "已还原真实身份（操作已记入审计日志）",
        "en": "real identities restored (recorded in the audit log)",
    },
    "export.f.mismatch": {
        "zh": "注意：工作区数据自本批次以来已变化（证据合计{now}元，批次记录{then}元）",
        "en": "Note: the workspace changed since this run (evidence now totals {now} yuan, "
        "{then} yuan when recorded)",
    },
    "export.f.related": {
        "zh": "与此前标记的线索{other}成员大部分相同",
        "en": "shares most members with earlier marked lead {other}",
    },
    "export.f.none": {"zh": "无", "en": "none"},
    # indicator kinds
    "export.kind.fabrication": {"zh": "虚构/故意证据", "en": "Fabrication or intent"},
    "export.kind.breach": {"zh": "一般违规/复核提示", "en": "Billing-rule breach or review cue"},
    "export.ind.none_fab": {
        "zh": "数据中未见虚构或故意的直接证据；以下仅为违规或复核提示。",
        "en": "The data show no direct evidence of fabrication or intent; what follows are "
        "rule breaches or review cues only.",
    },
    "export.ind.none": {
        "zh": "数据中未见可单独认定的虚构证据或违规项目。",
        "en": "No fabrication evidence or rule breach stands out on its own in the data.",
    },
    "export.ind.after_death": {
        "zh": "死亡后仍有结算或票据：{n}条记录，涉及{persons}人，金额{amount}元",
        "en": "settlements or invoices dated after the person's death: {n} records, "
        "{persons} persons, {amount} yuan",
    },
    "export.ind.card_other": {
        "zh": "冒用他人医保卡：{n}条结算使用了他人的卡，涉及{cards}张卡，金额{amount}元",
        "en": "card of another person used: {n} settlements on {cards} cards not the "
        "claimant's own, {amount} yuan",
    },
    "export.ind.card_void": {
        "zh": "挂失/注销后仍用卡结算：{n}条，金额{amount}元",
        "en": "card used after it was reported lost or cancelled: {n} settlements, {amount} yuan",
    },
    "export.ind.batch_admission": {
        "zh": "批量入院：{groups}个日期同一机构同日收治本线索{persons}名以上人员，共{n}条住院，"
        "金额{amount}元",
        "en": "batch admissions: on {groups} days one institution admitted {persons} or more "
        "of these persons together; {n} stays, {amount} yuan",
    },
    "export.ind.invoice_run": {
        "zh": "发票号码连号：{runs}组连号发票共{n}张分属{claimants}名不同报销人，金额{amount}元",
        "en": "invoice-number runs: {runs} runs of near-consecutive numbers, {n} invoices "
        "presented by {claimants} different claimants, {amount} yuan",
    },
    "export.ind.agent": {
        "zh": "同一代办电话/收款账户（非本人）为{claimants}名参保人报销{n}笔，金额{amount}元",
        "en": "one submitter phone or payee account, not the claimants' own, used for "
        "{claimants} claimants: {n} reimbursements, {amount} yuan",
    },
    "export.ind.overlap_stay": {
        "zh": "同一人同时段在不同机构住院：{n}对记录，涉及{persons}人，金额{amount}元",
        "en": "one person in hospital at two institutions at once: {n} pairs, {persons} "
        "persons, {amount} yuan",
    },
    "export.ind.no_referral": {
        "zh": "外地/非定点机构出具票据而无对应转诊：{n}张，金额{amount}元",
        "en": "invoices from an out-of-area or non-designated issuer with no matching "
        "referral: {n} invoices, {amount} yuan",
    },
    "export.ind.readmission": {
        "zh": "出院{days}天内再次入住同一机构（疑似分解住院）：{n}次，金额{amount}元",
        "en": "readmitted to the same institution within {days} days of discharge "
        "(possible split stay): {n} times, {amount} yuan",
    },
    "export.ind.visits_month": {
        "zh": "一个月内就诊{visits}次以上：{n}人次·月，金额{amount}元",
        "en": "{visits} or more visits in one month: {n} person-months, {amount} yuan",
    },
    "export.ind.big_reimbursement": {
        "zh": "单笔报销达{limit}元以上（须复核）：{n}笔，金额{amount}元",
        "en": "single reimbursement of {limit} yuan or more (reviewed by rule): {n}, {amount} yuan",
    },
    "export.ind.many_reimbursements": {
        "zh": "一年内报销{count}次以上（须复核）：{n}人次·年，金额{amount}元",
        "en": "{count} or more reimbursements in a year (reviewed by rule): {n} "
        "person-years, {amount} yuan",
    },
    # short names of indicators (the flags column of evidence tables)
    "export.short.after_death": {"zh": "死亡后记录", "en": "after death"},
    "export.short.card_other": {"zh": "冒用他人卡", "en": "another's card"},
    "export.short.card_void": {"zh": "挂失后用卡", "en": "void card"},
    "export.short.batch_admission": {"zh": "批量入院", "en": "batch admission"},
    "export.short.invoice_run": {"zh": "发票连号", "en": "invoice run"},
    "export.short.agent": {"zh": "代办人", "en": "agent"},
    "export.short.overlap_stay": {"zh": "同时住院", "en": "two stays at once"},
    "export.short.no_referral": {"zh": "无转诊票据", "en": "no referral"},
    "export.short.readmission": {"zh": "短期再入院", "en": "readmission"},
    "export.short.visits_month": {"zh": "月就诊超频", "en": "visits/month"},
    "export.short.big_reimbursement": {"zh": "大额报销", "en": "big reimbursement"},
    "export.short.many_reimbursements": {"zh": "频繁报销", "en": "many reimbursements"},
    # roles
    "export.role.claimant": {"zh": "参保人", "en": "claimant"},
    "export.role.organiser": {"zh": "疑似组织者/代办人", "en": "suspected organiser / agent"},
    "export.role.card_lender": {"zh": "医保卡被他人使用", "en": "card used by others"},
    "export.role.card_user": {"zh": "使用他人医保卡", "en": "used another's card"},
    "export.role.deceased": {
        "zh": "已死亡（死亡后仍有记录）",
        "en": "deceased (records after death)",
    },
    "export.role.member": {"zh": "线索成员（无证据记录）", "en": "member (no evidence record)"},
    "export.role.doctor": {"zh": "医师", "en": "doctor"},
    "export.role.referring_doctor": {"zh": "转诊医师", "en": "referring doctor"},
    "export.role.institution": {"zh": "医疗机构", "en": "institution"},
    "export.role.issuer": {"zh": "出票机构", "en": "invoice issuer"},
    "export.role.external": {"zh": "外地/非定点出票方", "en": "external issuer"},
    "export.role.pharmacy": {"zh": "定点药店", "en": "pharmacy"},
    "export.role.referral_provider": {
        "zh": "转诊相关机构（非证据）",
        "en": "referral counterpart (not evidence)",
    },
    "export.role.evidence_only": {
        "zh": "证据涉及人员（非线索成员）",
        "en": "in the evidence, not a lead member",
    },
    "export.role.card": {"zh": "医保卡", "en": "card"},
    "export.role.agent_phone": {"zh": "代办电话（组织者标识）", "en": "agent phone (organiser)"},
    "export.role.agent_account": {
        "zh": "收款账户（组织者标识）",
        "en": "payee account (organiser)",
    },
    # table names
    "export.t.members": {"zh": "成员", "en": "Members"},
    "export.t.summary": {"zh": "概要", "en": "Summary"},
    "export.t.reasons": {"zh": "理由", "en": "Reasons"},
    "export.t.indicators": {"zh": "证据性质", "en": "Indicators"},
    "export.t.identifiers": {"zh": "共用标识", "en": "Shared identifiers"},
    "export.t.claims": {"zh": "结算记录", "en": "Claims"},
    "export.t.reimbursements": {"zh": "手工报销", "en": "Reimbursements"},
    "export.t.invoices": {"zh": "票据", "en": "Invoices"},
    "export.t.referrals": {"zh": "转诊记录", "en": "Referrals"},
    "export.t.claim_items": {"zh": "费用明细", "en": "Claim items"},
    "export.t.marks": {"zh": "核查记录", "en": "Review history"},
    "export.t.total": {"zh": "合计", "en": "Total"},
    "export.t.more": {
        "zh": "（共{n}条，此处列出前{shown}条；完整明细见表格文件）",
        "en": "({n} in all; the first {shown} here, all of them in the spreadsheet)",
    },
    # columns
    "export.c.kind": {"zh": "类别", "en": "kind"},
    "export.c.id": {"zh": "编号", "en": "id"},
    "export.c.role": {"zh": "角色", "en": "role"},
    "export.c.name": {"zh": "姓名/名称", "en": "name"},
    "export.c.id_number": {"zh": "身份证号", "en": "ID number"},
    "export.c.phone": {"zh": "电话", "en": "phone"},
    "export.c.address": {"zh": "地址", "en": "address"},
    "export.c.bank_account": {"zh": "银行账户", "en": "bank account"},
    "export.c.gender": {"zh": "性别", "en": "gender"},
    "export.c.birth_date": {"zh": "出生日期", "en": "born"},
    "export.c.death_date": {"zh": "死亡日期", "en": "died"},
    "export.c.region": {"zh": "地区", "en": "region"},
    "export.c.evidence": {"zh": "证据数", "en": "records"},
    "export.c.amount": {"zh": "金额（元）", "en": "amount (yuan)"},
    "export.c.fund": {"zh": "基金支付（元）", "en": "fund (yuan)"},
    "export.c.detail": {"zh": "说明", "en": "detail"},
    "export.c.claim_id": {"zh": "结算编号", "en": "claim"},
    "export.c.person_id": {"zh": "人员编号", "en": "person"},
    "export.c.card_id": {"zh": "医保卡", "en": "card"},
    "export.c.card_holder": {"zh": "持卡人", "en": "card holder"},
    "export.c.provider_id": {"zh": "机构编码", "en": "provider"},
    "export.c.provider_name": {"zh": "机构名称", "en": "provider name"},
    "export.c.doctor_id": {"zh": "医师", "en": "doctor"},
    "export.c.visit_type": {"zh": "就诊类别", "en": "visit type"},
    "export.c.start_time": {"zh": "开始时间", "en": "start"},
    "export.c.end_time": {"zh": "结束时间", "en": "end"},
    "export.c.diagnosis_code": {"zh": "诊断", "en": "diagnosis"},
    "export.c.total_amount": {"zh": "总金额（元）", "en": "total (yuan)"},
    "export.c.fund_amount": {"zh": "基金支付（元）", "en": "fund (yuan)"},
    "export.c.terminal_id": {"zh": "终端", "en": "terminal"},
    "export.c.flags": {"zh": "疑点", "en": "flags"},
    "export.c.reimbursement_id": {"zh": "报销编号", "en": "reimbursement"},
    "export.c.submitted_date": {"zh": "申报日期", "en": "submitted"},
    "export.c.amount_claimed": {"zh": "申报金额（元）", "en": "claimed (yuan)"},
    "export.c.amount_paid": {"zh": "支付金额（元）", "en": "paid (yuan)"},
    "export.c.handler_id": {"zh": "经办人", "en": "handler"},
    "export.c.submitter_phone": {"zh": "申报人电话", "en": "submitter phone"},
    "export.c.payee_account": {"zh": "收款账户", "en": "payee account"},
    "export.c.invoice_id": {"zh": "票据号", "en": "invoice"},
    "export.c.issuer_id": {"zh": "出票机构", "en": "issuer"},
    "export.c.issuer_name": {"zh": "出票机构名称", "en": "issuer name"},
    "export.c.issue_date": {"zh": "开票日期", "en": "issued"},
    "export.c.referral_id": {"zh": "转诊编号", "en": "referral"},
    "export.c.from_provider_id": {"zh": "转出机构", "en": "from"},
    "export.c.to_provider_id": {"zh": "转入机构", "en": "to"},
    "export.c.referral_date": {"zh": "转诊日期", "en": "date"},
    "export.c.in_evidence": {"zh": "属证据", "en": "evidence"},
    "export.c.item_code": {"zh": "项目编码", "en": "item code"},
    "export.c.item_name": {"zh": "项目名称", "en": "item"},
    "export.c.item_kind": {"zh": "项目类别", "en": "item kind"},
    "export.c.quantity": {"zh": "数量", "en": "quantity"},
    "export.c.reason": {"zh": "理由", "en": "reason"},
    "export.c.code": {"zh": "代码", "en": "code"},
    "export.c.figures": {"zh": "数据", "en": "figures"},
    "export.c.count": {"zh": "数量", "en": "count"},
    "export.c.records": {"zh": "相关记录", "en": "records"},
    "export.c.links": {"zh": "关联", "en": "links"},
    "export.c.claimants": {"zh": "参保人数", "en": "claimants"},
    "export.c.status": {"zh": "状态", "en": "status"},
    "export.c.note": {"zh": "备注", "en": "note"},
    "export.c.when": {"zh": "时间", "en": "when"},
    "export.c.who": {"zh": "操作人", "en": "who"},
    "export.c.field": {"zh": "项目", "en": "field"},
    "export.c.value": {"zh": "内容", "en": "value"},
    "export.c.yes": {"zh": "是", "en": "yes"},
    "export.c.no": {"zh": "否", "en": "no"},
    # pictures
    "export.pic.timeline": {"zh": "证据时间线", "en": "Evidence timeline"},
    "export.pic.weekly": {"zh": "每周金额（元）", "en": "Amount per week (yuan)"},
    "export.pic.lanes": {"zh": "人员", "en": "Person"},
    "export.pic.death": {"zh": "死亡日期", "en": "date of death"},
    "export.pic.network": {"zh": "线索关系图", "en": "Lead network"},
    "export.pic.more_persons": {
        "zh": "（另有{n}人未画出）",
        "en": "({n} more persons not drawn)",
    },
    "export.vt.outpatient": {"zh": "门诊", "en": "outpatient"},
    "export.vt.chronic_outpatient": {"zh": "门诊慢特病", "en": "chronic outpatient"},
    "export.vt.inpatient": {"zh": "住院", "en": "inpatient"},
    "export.vt.pharmacy": {"zh": "药店购药", "en": "pharmacy"},
    "export.vt.reimbursement": {"zh": "手工报销", "en": "reimbursement"},
    "export.footer": {
        "zh": "本材料由 ringfinder {version} 根据医保数据自动生成，为大数据筛查线索，须经专家审核"
        "（一案一审）与现场核查后方可作为处理依据。",
        "en": "Generated by ringfinder {version} from medical-insurance data: a screening lead "
        "that needs case-by-case expert review (一案一审) and on-site checks before any "
        "action.",
    },
    # report
    "report.title": {"zh": "ringfinder 线索报告", "en": "ringfinder leads report"},
    "report.leads": {"zh": "线索列表", "en": "Leads"},
    "report.filter": {"zh": "筛选编号/类型…", "en": "Filter by id or pattern…"},
    "report.pick": {"zh": "点击左侧线索查看关系图与理由", "en": "Click a lead to see its network"},
    "report.legend": {"zh": "图例", "en": "Legend"},
    "report.drag": {
        "zh": "滚轮缩放，拖动平移，点击节点查看关联",
        "en": "wheel to zoom, drag to pan, click a node to see its links",
    },
    "report.generated": {
        "zh": "生成于{when}，工作区批次{run}，共{n}条线索；离线文件，无需联网。",
        "en": "Generated {when} from run {run}, {n} leads; an offline file, no network needed.",
    },
}
i18n.register(MESSAGES)


def t(code: str, lang: str, **figures: Any) -> str:
    """A label or sentence in ``lang``."""
    return i18n.text(code, lang, **figures)
