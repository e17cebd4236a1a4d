"""Geography and providers: districts, townships, villages, institutions, pharmacies, doctors.

Every provider (institution, pharmacy, and the out-of-area hospitals that appear only in
referrals and invoices) gets a row in one frame, ``City.orgs``, indexed by an integer
used throughout the generator; the writer turns these back into ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ringfinder.synth import lexicon, naming
from ringfinder.synth.ids import UniquePool, phone_sampler, uniform_sampler

KM_PER_DEG = 111.0

#: Settlement terminals by kind of provider.
TERMINALS = {
    "tertiary": 24,
    "county": 10,
    "tcm": 6,
    "maternal": 6,
    "private_hosp": 4,
    "township": 3,
    "community": 3,
    "village_clinic": 1,
    "private_clinic": 2,
    "dialysis": 2,
    "pharmacy": 2,
}
#: Doctors at a 3 M city's provider of each kind, and the minimum at any size.
DOCTORS = {
    "tertiary": (400, 20),
    "county": (120, 8),
    "tcm": (60, 5),
    "maternal": (60, 4),
    "private_hosp": (24, 4),
    "township": (12, 3),
    "community": (10, 3),
    "village_clinic": (1, 1),
    "private_clinic": (2, 1),
    "dialysis": (5, 3),
    "pharmacy": (2, 1),
}
_GENERAL_DEPTS = (
    "内科",
    "外科",
    "骨科",
    "眼科",
    "儿科",
    "妇产科",
    "中医科",
    "康复医学科",
    "肾内科",
    "心血管内科",
    "内分泌科",
    "神经内科",
    "呼吸内科",
    "消化内科",
    "肿瘤科",
    "急诊科",
    "口腔科",
    "皮肤科",
    "耳鼻喉科",
    "感染科",
    "全科",
)
DEPTS_BY_KIND = {
    "tertiary": _GENERAL_DEPTS,
    "county": _GENERAL_DEPTS,
    "tcm": ("中医科", "内科", "外科", "骨科", "康复医学科", "妇产科"),
    "maternal": ("妇产科", "儿科"),
    "township": ("全科", "内科", "中医科", "妇产科", "儿科", "外科"),
    "community": ("全科", "内科", "中医科", "口腔科"),
    "village_clinic": ("全科",),
    "private_clinic": ("全科",),
    "dialysis": ("肾内科",),
    "pharmacy": ("药房",),
}


@dataclass
class City:
    year: int
    province_code: str
    province_name: str
    city_name: str
    prefecture: str  # 4 digits
    # districts (区/县/县级市)
    d_code: list[str]
    d_name: list[str]
    d_urban: np.ndarray
    d_lat: np.ndarray
    d_lon: np.ndarray
    # townships (镇/乡/街道)
    t_district: np.ndarray
    t_name: list[str]
    t_lat: np.ndarray
    t_lon: np.ndarray
    # villages and communities (村/社区)
    v_town: np.ndarray
    v_name: list[str]
    v_lat: np.ndarray
    v_lon: np.ndarray
    v_weight: np.ndarray
    # providers and doctors
    orgs: pd.DataFrame
    doctors: pd.DataFrame
    n_inst: int
    n_pharm: int

    @property
    def v_district(self) -> np.ndarray:
        return self.t_district[self.v_town]

    @property
    def v_urban(self) -> np.ndarray:
        return self.d_urban[self.v_district]

    @property
    def n_providers(self) -> int:
        return self.n_inst + self.n_pharm

    def org_ids(self, kinds: tuple[str, ...]) -> np.ndarray:
        return np.flatnonzero(self.orgs["kind"].isin(kinds).to_numpy())

    def km(
        self, lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray
    ) -> np.ndarray:
        """Equirectangular distance in km (broadcasting)."""
        dlat = (np.asarray(lat1) - lat2) * KM_PER_DEG
        dlon = (np.asarray(lon1) - lon2) * KM_PER_DEG * np.cos(np.radians(np.asarray(lat2)))
        return np.hypot(dlat, dlon)

    def village_org_km(self, orgs: np.ndarray) -> np.ndarray:
        """(villages × orgs) distances."""
        o = self.orgs
        return self.km(
            self.v_lat[:, None],
            self.v_lon[:, None],
            o["lat"].to_numpy()[orgs][None, :],
            o["lon"].to_numpy()[orgs][None, :],
        )

    def address_prefix(self, district: int, town: int) -> str:
        return f"{self.city_name}{self.d_name[district]}{self.t_name[town]}"


@dataclass(frozen=True)
class CityNeeds:
    """Providers the planted schemes and look-alikes will need, beyond the honest market."""

    private_hospitals: int
    pharmacies: int
    private_clinics: int


def _place(rng: np.random.Generator, lat: float, lon: float, spread: float, n: int):
    return lat + rng.normal(0, spread, n), lon + rng.normal(0, spread, n)


def build_city(
    rng: np.random.Generator, persons: int, year: int, needs: CityNeeds, phones: UniquePool
) -> City:
    prov_code, prov_name, _capital, c_lat, c_lon = lexicon.PROVINCES[
        rng.integers(len(lexicon.PROVINCES))
    ]
    prefecture = f"{prov_code}{rng.integers(25, 30)}"
    heads, tails = lexicon.CITY_HEAD, lexicon.CITY_TAIL
    city_name = heads[rng.integers(len(heads))] + tails[rng.integers(len(tails))] + "市"

    # --- districts -------------------------------------------------------------------
    n_d = int(rng.integers(6, 11))
    n_urban = 2 if n_d < 8 else 3
    has_cl_city = n_d >= 8
    names = naming.place_names(rng, n_d)
    d_code, d_name, d_urban = [], [], []
    for i in range(n_d):
        if i < n_urban:
            d_code.append(f"{prefecture}{i + 2:02d}")
            d_name.append(names[i] + "区")
            d_urban.append(True)
        elif has_cl_city and i == n_d - 1:
            d_code.append(f"{prefecture}81")
            d_name.append(names[i] + "市")
            d_urban.append(False)
        else:
            d_code.append(f"{prefecture}{i - n_urban + 21:02d}")
            d_name.append(names[i] + "县")
            d_urban.append(False)
    d_urban_a = np.array(d_urban)
    angle = rng.permutation(n_d) * 2 * np.pi / n_d + rng.normal(0, 0.2, n_d)
    radius = np.where(d_urban_a, rng.uniform(0.02, 0.07, n_d), rng.uniform(0.3, 0.65, n_d))
    d_lat = c_lat + radius * np.sin(angle)
    d_lon = c_lon + radius * np.cos(angle) / np.cos(np.radians(c_lat))
    d_weight = np.where(d_urban_a, 1.6, 1.0) * rng.lognormal(0, 0.25, n_d)

    # --- townships and villages ----------------------------------------------------
    n_v = int(np.clip(0.35 * persons**0.6, 60, 3000))  # 133 at 20 k, 2,700 at 3 M
    v_per_d = np.maximum(6, np.round(n_v * d_weight / d_weight.sum())).astype(int)
    t_district, t_name, t_lat, t_lon = [], [], [], []
    v_town, v_name, v_lat, v_lon = [], [], [], []
    town_names = naming.place_names(rng, int(sum(max(2, round(v / 8)) for v in v_per_d)) + 5)
    tn = 0
    for d in range(n_d):
        n_t = max(2, round(v_per_d[d] / (8 if d_urban[d] else 10)))
        spread = 0.03 if d_urban[d] else 0.12
        lat, lon = _place(rng, d_lat[d], d_lon[d], spread, n_t)
        lat[0], lon[0] = d_lat[d], d_lon[d]  # the seat of the district government
        first_town = len(t_name)
        for t in range(n_t):
            suffix = "街道" if d_urban[d] else ("镇" if t == 0 or rng.random() < 0.7 else "乡")
            t_name.append(town_names[tn] + suffix)
            tn += 1
            t_district.append(d)
        t_lat.extend(lat)
        t_lon.extend(lon)
        towns = first_town + np.concatenate(
            [np.arange(n_t), rng.integers(0, n_t, max(0, v_per_d[d] - n_t))]
        )
        towns.sort()
        vnames = naming.place_names(rng, towns.size, villages=not d_urban[d])
        v_spread = 0.008 if d_urban[d] else 0.035
        for k, t in enumerate(towns):
            v_town.append(t)
            v_name.append(vnames[k] + ("社区" if d_urban[d] else "村"))
        v_lat.extend(np.array(t_lat)[towns] + rng.normal(0, v_spread, towns.size))
        v_lon.extend(np.array(t_lon)[towns] + rng.normal(0, v_spread, towns.size))
    t_district_a = np.array(t_district, dtype=np.int32)
    v_town_a = np.array(v_town, dtype=np.int32)
    v_weight = rng.lognormal(0, 0.45, v_town_a.size) * np.where(
        d_urban_a[t_district_a[v_town_a]], 1.5, 1.0
    )
    city = City(
        year=year,
        province_code=prov_code,
        province_name=prov_name,
        city_name=city_name,
        prefecture=prefecture,
        d_code=d_code,
        d_name=d_name,
        d_urban=d_urban_a,
        d_lat=d_lat,
        d_lon=d_lon,
        t_district=t_district_a,
        t_name=t_name,
        t_lat=np.array(t_lat),
        t_lon=np.array(t_lon),
        v_town=v_town_a,
        v_name=v_name,
        v_lat=np.array(v_lat),
        v_lon=np.array(v_lon),
        v_weight=v_weight,
        orgs=pd.DataFrame(),
        doctors=pd.DataFrame(),
        n_inst=0,
        n_pharm=0,
    )
    _providers(rng, city, persons, needs)
    _doctors(rng, city, persons, phones)
    return city


def _providers(rng: np.random.Generator, city: City, persons: int, needs: CityNeeds) -> None:
    rows: list[dict] = []
    cn = city.city_name
    town_pop = np.bincount(city.v_town, weights=city.v_weight, minlength=len(city.t_name))
    county_d = np.flatnonzero(~city.d_urban)
    road = lexicon.ROADS

    def add(kind, name, level, ownership, town, *, village=-1, capacity=1.0, **extra):
        d = int(city.t_district[town])
        if village >= 0:
            lat, lon = city.v_lat[village], city.v_lon[village]
            addr = f"{city.address_prefix(d, town)}{city.v_name[village]}"
        else:
            lat = city.t_lat[town] + rng.normal(0, 0.004)
            lon = city.t_lon[town] + rng.normal(0, 0.004)
            street = f"{road[rng.integers(len(road))]}{rng.integers(1, 400)}号"
            addr = city.address_prefix(d, town) + street
        rows.append(
            {
                "kind": kind,
                "name": name,
                "level": level,
                "ownership": ownership,
                "district": d,
                "town": town,
                "village": village,
                "address": addr,
                "lat": round(float(lat), 6),
                "lon": round(float(lon), 6),
                "capacity": capacity,
                "chain_id": None,
                "specialty": extra.get("specialty", ""),
            }
        )

    def town_of(d: int) -> int:  # the district's seat
        return int(np.flatnonzero(city.t_district == d)[0])

    # tertiary hospitals in the city districts
    urban_d = np.flatnonzero(city.d_urban)
    tert = [("第一人民医院", 40), ("中心医院", 32), ("中医医院", 18), ("第二人民医院", 25)]
    for k, (suffix, cap) in enumerate(tert[: 3 + (persons >= 1_000_000)]):
        kind = "tertiary"
        add(
            kind,
            cn + suffix,
            "tertiary",
            "public",
            town_of(urban_d[k % urban_d.size]),
            capacity=cap,
        )
    add("maternal", cn + "妇幼保健院", "secondary", "public", town_of(urban_d[0]), capacity=6)
    # county-level public hospitals
    for d in range(len(city.d_name)):
        dn = city.d_name[d]
        add("county", dn + "人民医院", "secondary", "public", town_of(d), capacity=10)
        if not city.d_urban[d]:
            add("tcm", dn + "中医医院", "secondary", "public", town_of(d), capacity=5)
    # private hospitals (民营)
    n_priv = int(np.clip(round(persons / 40_000) + 8, needs.private_hospitals, 150))
    specs = list(lexicon.SPECIALTIES)
    p_town = town_pop * np.where(city.d_urban[city.t_district], 2.0, 1.0)
    towns = rng.choice(len(city.t_name), size=n_priv, p=p_town / p_town.sum())
    seen: set[str] = set()
    for k in range(n_priv):
        spec = specs[k % len(specs)] if k < 2 * len(specs) else specs[rng.integers(len(specs))]
        suffix = lexicon.SPECIALTIES[spec][0]
        dshort = city.d_name[city.t_district[towns[k]]][:2]
        for _ in range(50):
            brand = lexicon.PRIVATE_BRANDS[rng.integers(len(lexicon.PRIVATE_BRANDS))]
            name = f"{dshort}{brand}{suffix}"
            if name not in seen:
                break
            name = f"{city.t_name[towns[k]][:2]}{brand}{suffix}"
            if name not in seen:
                break
        seen.add(name)
        level = "secondary" if rng.random() < 0.4 else "primary"
        add(
            "private_hosp",
            name,
            level,
            "private",
            int(towns[k]),
            capacity=float(rng.lognormal(0.3, 0.5)),
            specialty=spec,
        )
    # township health centres and community health service centres
    for t in range(len(city.t_name)):
        if city.d_urban[city.t_district[t]]:
            add(
                "community",
                city.t_name[t].removesuffix("街道") + "社区卫生服务中心",
                "primary",
                "public",
                t,
                capacity=3.0,
            )
        else:
            central = t == town_of(int(city.t_district[t]))
            suffix = "中心卫生院" if central or rng.random() < 0.3 else "卫生院"
            add("township", city.t_name[t] + suffix, "primary", "public", t, capacity=3.0)
    # village clinics (村卫生室) in about 60% of the villages
    rural_v = np.flatnonzero(~city.v_urban)
    for v in rural_v[rng.random(rural_v.size) < 0.6]:
        add(
            "village_clinic",
            city.v_name[v] + "卫生室",
            "clinic",
            "public",
            int(city.v_town[v]),
            village=int(v),
            capacity=1.0,
        )
    # private clinics (诊所)
    n_clin = int(np.clip(round(persons / 4000), max(6, needs.private_clinics), 800))
    towns = rng.choice(len(city.t_name), size=n_clin, p=town_pop / town_pop.sum())
    sur = naming.surnames(rng, n_clin)
    g1, g2 = naming.given_names(rng, rng.random(n_clin) < 0.7, rng.integers(1955, 1990, n_clin))
    doctor_names = naming.name_strings(sur, g1, g2)
    for k in range(n_clin):
        r = rng.random()
        tshort = city.t_name[towns[k]][:2]
        if r < 0.55:
            name, spec = doctor_names[k] + "诊所", ""
        elif r < 0.75:
            name, spec = f"{tshort}{doctor_names[k][0]}氏口腔诊所", "dental"
        elif r < 0.9:
            name, spec = f"{doctor_names[k]}中医诊所", "tcm"
        else:
            name, spec = f"{tshort}{lexicon.PRIVATE_BRANDS[k % 10]}门诊部", ""
        add(
            "private_clinic",
            name,
            "clinic",
            "private",
            int(towns[k]),
            capacity=float(rng.lognormal(0, 0.4)),
            specialty=spec,
        )
    # dialysis centres
    n_dial = int(np.clip(round(persons / 300_000), 1, 12))
    for k in range(n_dial):
        if k % 2 == 0:
            d = urban_d[(k // 2) % urban_d.size]
            brand = lexicon.PRIVATE_BRANDS[(k + 3) % 10]
            add(
                "dialysis",
                f"{cn}{brand}血液透析中心",
                "unrated",
                "private",
                town_of(d),
                capacity=1.0,
                specialty="dialysis",
            )
        else:
            d = county_d[(k // 2) % county_d.size]
            add(
                "dialysis",
                f"{city.d_name[d]}肾病医院",
                "secondary",
                "public",
                town_of(d),
                capacity=1.0,
                specialty="dialysis",
            )
    n_inst = len(rows)

    # --- pharmacies --------------------------------------------------------------------
    n_ph = int(np.clip(round(persons / 1500), needs.pharmacies, 2500))
    vp = city.v_weight * np.where(city.v_urban, 2.5, 1.0)
    pv = rng.choice(city.v_town.size, size=n_ph, p=vp / vp.sum())
    busiest = int(np.flatnonzero(city.v_urban)[np.argmax(city.v_weight[city.v_urban])])
    pv[0] = busiest
    chain = np.where(
        rng.random(n_ph) < 0.6, rng.integers(0, len(lexicon.PHARMACY_CHAINS), n_ph), -1
    )
    chain[0] = 0
    names_seen: dict[str, int] = {}
    for k in range(n_ph):
        v, t = int(pv[k]), int(city.v_town[pv[k]])
        place = city.t_name[t].removesuffix("街道").removesuffix("镇").removesuffix("乡")
        if chain[k] >= 0:
            name = f"{lexicon.PHARMACY_CHAINS[chain[k]]}({place}{city.v_name[v][:2]}店)"
        else:
            ind = lexicon.INDEPENDENT_PHARMACY
            name = f"{place}{ind[rng.integers(len(ind))]}"
        names_seen[name] = names_seen.get(name, 0) + 1
        if names_seen[name] > 1:
            name = (
                f"{name[:-1]}{names_seen[name]}店)"
                if name.endswith(")")
                else f"{name}{names_seen[name]}分店"
            )
        add("pharmacy", name, None, None, t, capacity=float(rng.lognormal(0, 0.5)))
        rows[-1]["lat"] = round(float(city.v_lat[v] + rng.normal(0, 0.002)), 6)
        rows[-1]["lon"] = round(float(city.v_lon[v] + rng.normal(0, 0.002)), 6)
        if chain[k] >= 0:
            rows[-1]["chain_id"] = f"LS{city.prefecture}{chain[k] + 1:04d}"
    rows[n_inst]["capacity"] = 40.0  # the busy honest pharmacy
    rows[n_inst]["specialty"] = "busy"

    # --- out-of-area hospitals (only in referrals and invoices) -----------------------
    capital = next(p for p in lexicon.PROVINCES if p[0] == city.province_code)[2]
    ext_regions = [capital[i % 3] for i in range(8)] + list(lexicon.FAR_REGIONS[:5])
    ext_spec = ["general", "cancer", "general", "children", "general", "cancer", "general", "eye"]
    ext_spec += ["general", "cancer", "general", "general", "cancer"]
    for k, region in enumerate(ext_regions):
        rows.append(
            {
                "kind": "external",
                "name": "",
                "level": None,
                "ownership": None,
                "district": -1,
                "town": -1,
                "village": -1,
                "address": None,
                "lat": np.nan,
                "lon": np.nan,
                "capacity": 1.0,
                "chain_id": None,
                "specialty": ext_spec[k],
                "region": region,
            }
        )

    orgs = pd.DataFrame(rows)
    n = len(orgs)
    orgs["region"] = [
        r.get("region") or city.d_code[r["district"]] for r in rows
    ]  # 6-digit region of the id
    terminals = np.array([TERMINALS.get(k, 1) for k in orgs["kind"]])
    small = orgs["kind"].isin(["pharmacy", "private_clinic"]).to_numpy()
    terminals[small] = rng.integers(1, terminals[small] + 2)
    terminals[n_inst] = 4  # the busy pharmacy
    orgs["terminals"] = terminals
    # national ids: H/P + 6-digit region + 5 digits, unique
    pool = UniquePool()
    region_num = orgs["region"].astype(np.int64).to_numpy()
    letter = np.where(np.arange(n) < n_inst, "H", np.where(np.arange(n) < n_inst + n_ph, "P", "H"))
    suffix = pool.draw(rng, n, uniform_sampler(0, 100_000))
    orgs["id"] = [f"{letter[i]}{region_num[i]:06d}{suffix[i]:05d}" for i in range(n)]
    city.orgs = orgs
    city.n_inst = n_inst
    city.n_pharm = n_ph


def _doctors(rng: np.random.Generator, city: City, persons: int, phones: UniquePool) -> None:
    orgs = city.orgs
    scale = (persons / 3_000_000) ** 0.6
    counts = []
    for kind, cap in zip(orgs["kind"], orgs["capacity"], strict=True):
        if kind == "external":
            counts.append(0)
            continue
        base, low = DOCTORS[kind]
        k = base * scale * (cap / 3 if kind == "private_hosp" else 1)
        counts.append(int(max(low, round(k))))
    counts_a = np.array(counts)
    org = np.repeat(np.arange(len(orgs)), counts_a)
    n = org.size
    within = np.arange(n) - np.repeat(np.cumsum(counts_a) - counts_a, counts_a)
    kinds = orgs["kind"].to_numpy()[org]
    specs = orgs["specialty"].to_numpy()[org]
    dept = np.empty(n, dtype=np.int16)
    for i in range(n):  # one row per doctor: at most ~15k in a 3 M city
        kind = kinds[i]
        if kind == "private_hosp":
            depts = lexicon.SPECIALTIES[specs[i]][1]
        elif kind == "private_clinic" and specs[i] == "dental":
            depts = ("口腔科",)
        elif kind == "private_clinic" and specs[i] == "tcm":
            depts = ("中医科",)
        else:
            depts = DEPTS_BY_KIND[kind]
        dept[i] = lexicon.DEPT.get(depts[within[i] % len(depts)], lexicon.DEPT["中医科"])
    pharmacist = kinds == "pharmacy"
    birth = rng.integers(1960, 2000, n)
    male = rng.random(n) < np.where(pharmacist, 0.3, 0.55)
    g1, g2 = naming.given_names(rng, male, birth)
    names = naming.name_strings(naming.surnames(rng, n), g1, g2)
    title_doc = rng.choice(len(lexicon.DOCTOR_TITLES), n, p=[0.08, 0.17, 0.35, 0.25, 0.15])
    title_ph = rng.choice(len(lexicon.PHARMACIST_TITLES), n, p=[0.55, 0.15, 0.25, 0.05])
    titles = np.where(
        pharmacist,
        np.array(lexicon.PHARMACIST_TITLES)[title_ph],
        np.array(lexicon.DOCTOR_TITLES)[title_doc],
    )
    region = orgs["region"].astype(np.int64).to_numpy()[org]
    serial = UniquePool().draw(rng, n, uniform_sampler(0, 1_000_000))
    ids = [f"D{region[i]:06d}{serial[i]:06d}" for i in range(n)]
    doctors = pd.DataFrame(
        {
            "id": ids,
            "name": names,
            "org": org.astype(np.int32),
            "dept": dept,
            "title": titles,
            "phone": phones.draw(rng, n, phone_sampler),
        }
    )
    # output order is by doctor id; keep the frame in that order
    city.doctors = doctors.sort_values("id", kind="stable").reset_index(drop=True)


class DoctorIndex:
    """Vectorised doctor lookup by (provider, department), falling back to any doctor there."""

    def __init__(self, city: City) -> None:
        doc = city.doctors
        n_org = len(city.orgs)
        nd = len(lexicon.DEPARTMENTS)
        self.nd = nd
        key = doc["org"].to_numpy().astype(np.int64) * nd + doc["dept"].to_numpy()
        order = np.argsort(key, kind="stable")
        self.sorted_doc = order.astype(np.int32)
        skey = key[order]
        self.key_start = np.searchsorted(skey, np.arange(n_org * nd))
        self.key_count = np.searchsorted(skey, np.arange(n_org * nd), side="right") - self.key_start
        org_sorted = doc["org"].to_numpy()[order]
        self.org_start = np.searchsorted(org_sorted, np.arange(n_org))
        self.org_count = (
            np.searchsorted(org_sorted, np.arange(n_org), side="right") - self.org_start
        )

    def pick(
        self, rng: np.random.Generator, org: np.ndarray, dept: np.ndarray | None = None
    ) -> np.ndarray:
        org = np.asarray(org, dtype=np.int64)
        start = self.org_start[org]
        count = self.org_count[org]
        if dept is not None:
            key = org * self.nd + np.asarray(dept, dtype=np.int64)
            has = self.key_count[key] > 0
            start = np.where(has, self.key_start[key], start)
            count = np.where(has, self.key_count[key], count)
        pos = start + (rng.random(org.size) * count).astype(np.int64)
        out = np.where(count > 0, self.sorted_doc[np.minimum(pos, self.sorted_doc.size - 1)], -1)
        return out.astype(np.int32)

    def of_org(self, org: int) -> np.ndarray:
        s, c = self.org_start[org], self.org_count[org]
        return np.sort(self.sorted_doc[s : s + c])
