"""Write the small GB18030 sample of a 国家医保信息平台-style export (made-up people).

    python examples/cn_export/make_sample.py [OUT_DIR]     # default: this folder

Same output every run (fixed seed). Every name, ID number, phone and account is
invented; the ID numbers carry valid check digits so that they pass validation,
except the one planted bad row. A few rows are deliberately wrong so that the load
shows its quarantine (see README.md for the expected result).
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

ENCODING = "gb18030"
SEED = 20250101
REGION = "110108"  # 北京市海淀区

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟"]
STREETS = ["中关村大街", "学院路", "海淀路", "北四环西路", "清河中街", "西三旗路"]


def id_check(first17: str) -> str:
    """ISO 7064 MOD 11-2 check digit of a 居民身份证号."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding=ENCODING, newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(header)
        w.writerows(rows)


def main(out: Path) -> None:
    rng = random.Random(SEED)
    out.mkdir(parents=True, exist_ok=True)

    # -- 参保人员 (persons) -------------------------------------------------------
    persons = []
    for i in range(13):
        gender = rng.choice("12")
        birth = datetime(1940, 1, 1) + timedelta(days=rng.randrange(0, 60 * 365))
        seq = f"{rng.randrange(0, 100):02d}{1 if gender == '1' else 2}"
        first17 = REGION + birth.strftime("%Y%m%d") + seq
        idno = first17 + id_check(first17)
        psn_no = f"11000011{i + 1:08d}"  # 人员编号: text, leading zeros matter
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        phone = f"1{rng.choice('3589')}{rng.randrange(0, 10**9):09d}"
        address = f"北京市海淀区{rng.choice(STREETS)}{rng.randrange(1, 200)}号"
        insutype = rng.choice(["310", "310", "390", "390", "320"])
        persons.append(
            {
                "psn_no": psn_no,
                "name": name,
                "idno": idno,
                "gender": gender,
                "birth": birth,
                "phone": phone,
                "address": address,
                "insutype": insutype,
                "emp": f"E{REGION}{rng.randrange(1, 5):04d}" if insutype == "310" else "",
                "bank": f"6222 0{rng.randrange(0, 10**14):014d}",
                "card": f"{rng.choice('ABKL')}{rng.randrange(0, 10**8):08d}",
            }
        )
    persons[3]["address"] = "北京市海淀区学院路37号\n2号楼3单元"  # a quoted newline
    persons[4]["phone"] = "+86 " + persons[4]["phone"]  # normalised before hashing
    persons[5]["death"] = "20240615"
    bad_id = persons[12]  # a wrong check digit: this person, and what refers to them, is rejected
    bad_id["idno"] = bad_id["idno"][:17] + ("0" if bad_id["idno"][17] != "0" else "1")
    person_rows = [
        [
            p["psn_no"],
            p["name"],
            p["idno"],
            p["gender"],
            p["birth"].strftime("%Y%m%d"),
            p["phone"],
            p["address"],
            REGION,
            p["insutype"],
            p["emp"],
            p["bank"],
            p.get("death", ""),
        ]
        for p in persons
    ]
    write(
        out / "参保人员信息.csv",
        [
            "人员编号",
            "姓名",
            "证件号码",
            "性别",
            "出生日期",
            "联系电话",
            "常住地址",
            "行政区划",
            "险种类型",
            "单位编号",
            "银行账号",
            "死亡日期",
        ],
        person_rows,
    )

    # -- 定点医疗机构, 定点零售药店, 医保医师 ----------------------------------------
    hospitals = [
        [f"H{REGION}00017", "北京市海淀医院", "三级甲等", "公立", REGION, "中关村大街29号"],
        [f"H{REGION}00342", "海淀区学院路社区卫生服务中心", "一级", "公立", REGION, "学院路12号"],
        [f"H{REGION}01107", "北京康宁中西医结合诊所", "诊所", "民营", REGION, "清河中街8号"],
    ]
    write(
        out / "定点医疗机构.csv",
        ["机构编码", "机构名称", "医院等级", "经济类型", "行政区划", "地址"],
        hospitals,
    )
    pharmacies = [[f"P{REGION}00521", "海淀益民大药房", REGION, "西三旗路5号", "LS0001"]]
    write(
        out / "定点零售药店.csv",
        ["机构编码", "机构名称", "行政区划", "地址", "连锁总部编码"],
        pharmacies,
    )
    doctors = []
    for j, (hosp, dept, title) in enumerate(
        [
            (0, "内科", "主任医师"),
            (0, "外科", "主治医师"),
            (1, "全科", "医师"),
            (2, "中医科", "主治医师"),
        ]
    ):
        doctors.append(
            [
                f"D{REGION}{j + 1:06d}",
                rng.choice(SURNAMES) + rng.choice(GIVEN),
                hospitals[hosp][0],
                dept,
                title,
                f"1{rng.choice('3589')}{rng.randrange(0, 10**9):09d}",
            ]
        )
    doctors.append(
        [f"D{REGION}{9:06d}", rng.choice(SURNAMES) + "药师", pharmacies[0][0], "", "药师", ""]
    )
    write(
        out / "医保医师.csv",
        ["医师代码", "姓名", "执业机构编码", "科室", "职称", "联系电话"],
        doctors,
    )

    # -- 结算信息 (settlements) and 费用明细 (fee details) ------------------------
    med_types = ["11", "11", "11", "14", "21", "41", "41"]
    diag = ["J06.900", "I10.x00", "E11.900", "K29.700", "M54.500", "J18.900"]
    items = {
        "09": [("XJ01CAA040A001010100441", "阿莫西林胶囊", 12.5)],
        "11": [("ZA01AAA0140010102765", "感冒清热颗粒", 18.0)],
        "04": [("250101001", "血常规", 20.0)],
        "02": [("110200001", "普通门诊诊察费", 10.0)],
        "01": [("110900001", "床位费", 60.0)],
        "05": [("340200001", "针灸", 35.0)],
    }
    setl_rows: list[list[str]] = []
    item_rows: list[list[str]] = []
    start = datetime(2025, 1, 2, 8, 0)
    for k in range(84):
        p = persons[k % 12] if k != 83 else persons[12]
        med = rng.choice(med_types)
        if med == "41":
            prov, doc = pharmacies[0], doctors[4]
        else:
            h = rng.choice([0, 0, 1, 2])
            prov = hospitals[h]
            doc = rng.choice([d for d in doctors if d[2] == prov[0]])
        t = start + timedelta(days=rng.randrange(0, 120), minutes=rng.randrange(0, 600))
        setl_id = f"S{t:%Y%m%d}{k + 1:06d}"
        adm = dis = ""
        if med == "21":
            adm = t.strftime("%Y%m%d%H%M%S")
            t = t + timedelta(days=rng.randrange(2, 10))
            dis = t.strftime("%Y%m%d%H%M%S")
        # mixed time formats, as exports from different hospital systems have
        setl_time = t.strftime("%Y%m%d%H%M%S") if k % 5 else f"{t.year}/{t.month}/{t.day} {t:%H:%M}"
        kinds = {
            "11": ["02", "09", "04"],
            "14": ["02", "11"],
            "21": ["01", "04", "09", "05"],
            "41": ["09", "11"],
        }[med]
        lines = []
        for kind in kinds:
            code, name, price = items[kind][0]
            qty = rng.choice([1, 1, 2, 3]) if kind in ("09", "11") else 1
            if kind == "01":
                qty = 5
            lines.append((code, name, kind, qty, round(price * qty, 2)))
        total = round(sum(x[4] for x in lines), 2)
        ratio = {"11": 0.5, "14": 0.7, "21": 0.85, "41": 0.0}[med]
        fund = round(total * ratio, 2)
        setl_rows.append(
            [
                setl_id,
                f"M{setl_id[1:]}",
                p["psn_no"],
                p["name"],
                p["idno"],
                p["gender"],
                p["birth"].strftime("%Y%m%d"),
                p["card"],
                prov[0],
                prov[1],
                doc[0],
                med,
                adm,
                setl_time,
                dis,
                rng.choice(diag),
                f"{total:.2f}",
                f"{fund:.2f}",
                f"{total - fund:.2f}",
                f"T{prov[0][-3:]}{rng.randrange(1, 4):02d}",
            ]
        )
        for n, (code, name, kind, qty, amt) in enumerate(lines, 1):
            item_rows.append([setl_id, f"{n:04d}", code, name, kind, str(qty), f"{amt:.2f}"])

    # planted problems (each is quarantined with a reason; see README.md)
    setl_rows[10][11] = "99"  # 医疗类别 not in the mapping
    setl_rows[20][13] = "2025/2/30 10:00"  # no such day
    setl_rows[30][17] = str(float(setl_rows[30][16]) + 100)  # fund more than total
    setl_rows[40][2] = "1100001199999999"  # 人员编号 nobody has
    setl_rows[41][16] = "-12.50"  # negative total
    setl_rows.append(list(setl_rows[50]))  # the same 结算ID twice
    setl_rows.insert(60, setl_rows[60][:9])  # a row cut short (9 fields of 20)
    write(
        out / "结算信息.csv",
        [
            "结算ID",
            "就诊ID",
            "人员编号",
            "人员姓名",
            "证件号码",
            "性别",
            "出生日期",
            "凭证号",
            "定点医药机构编码",
            "定点医药机构名称",
            "医师代码",
            "医疗类别",
            "入院日期",
            "结算时间",
            "出院日期",
            "主诊断编码",
            "医疗费总额",
            "基金支付总额",
            "个人现金支付",
            "终端编号",
        ],
        setl_rows,
    )
    write(
        out / "费用明细.csv",
        [
            "结算ID",
            "明细流水号",
            "医保目录编码",
            "医保目录名称",
            "费用类别",
            "数量",
            "明细项目费用总额",
        ],
        item_rows,
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
