"""The demo data: two profiles (``DEMO_PROFILE``, tools/demo/load.py).

``shaoxing`` (the default, ``make run``) is the demo city: Shaoxing's problem lists of 2016 at
their real size (seed ``000_…``). ``zhejiang`` is a province at scale for benchmarks and the
province features: about 100,000 items over Zhejiang's 90 counties, in the real townships and
villages of the division codes (shared/divisions.py), spread like the seed city (build_province).

2,681 villages and communities screened, 3,272 problems listed, with the seed's per-county
counts. Townships and streets are real where known, villages real where the seeds name them and
plausible otherwise; problems and measures are in the register of the five seed reports;
responsible persons are titles and a surname only (张某某), never a real name. Statuses and
deadlines are spread around ``today`` so that the ledger has open, overdue and crossed-off items.

Pure and deterministic: the same seed and ``today`` (and region) give the same list. No I/O.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from shared.divisions import VILLAGE, Region, written_name

SEED = 2016
VILLAGES_TOTAL = 2681
ITEMS_PER_COUNTY: dict[str, int] = {
    "330602": 380,  # 越城区
    "330603": 629,  # 柯桥区
    "330604": 449,  # 上虞区
    "330681": 516,  # 诸暨市
    "330683": 562,  # 嵊州市
    "330624": 448,  # 新昌县
    "330690": 152,  # 高新区
    "330691": 107,  # 袍江开发区
    "330692": 29,  # 滨海新城
}
ITEMS_TOTAL = sum(ITEMS_PER_COUNTY.values())

OPEN, IN_PROGRESS, PENDING, CLOSED = "open", "in_progress", "pending_verification", "closed"
# The city-wide spread; each county leans a little towards or away from closing (see _statuses).
STATUS_SHARES = {OPEN: 0.15, IN_PROGRESS: 0.35, PENDING: 0.15, CLOSED: 0.35}
PUBLIC_SHARE = 1 / 3

# Townships and streets (乡镇、街道) per county, with the villages the seeds name.
TOWNSHIPS: dict[str, dict[str, tuple[str, ...]]] = {
    "330602": {
        "灵芝镇": ("张市村", "大善村"), "东浦镇": (), "鉴湖镇": (), "陶堰镇": (), "富盛镇": (),
        "塔山街道": (), "府山街道": (), "北海街道": (), "城南街道": (), "稽山街道": (),
    },
    "330603": {
        "柯桥街道": (), "柯岩街道": ("梅墅村",), "华舍街道": (), "湖塘街道": (), "齐贤镇": (),
        "安昌镇": (), "杨汛桥镇": (), "钱清镇": ("九岩村",), "兰亭镇": (), "平水镇": (),
        "王坛镇": (), "稽东镇": (), "夏履镇": (), "漓渚镇": (), "福全镇": (),
    },
    "330604": {
        "百官街道": (), "曹娥街道": (), "东关街道": (), "梁湖镇": (), "小越镇": (),
        "崧厦镇": (), "道墟镇": (), "盖北镇": (), "谢塘镇": (), "丰惠镇": (), "汤浦镇": (),
        "章镇镇": (), "下管镇": (), "永和镇": (), "长塘镇": (), "上浦镇": (), "驿亭镇": (),
        "岭南乡": (), "陈溪乡": (), "丁宅乡": (),
    },
    "330681": {
        "暨阳街道": (), "浣东街道": (), "陶朱街道": (), "大唐镇": (), "次坞镇": (),
        "店口镇": (), "阮市镇": (), "江藻镇": (), "枫桥镇": (), "赵家镇": (), "马剑镇": (),
        "草塔镇": ("上余村", "龙珠里村", "溪南村", "莼塘东村", "上下文村"),
        "牌头镇": (), "同山镇": (), "安华镇": (), "街亭镇": (), "璜山镇": (), "岭北镇": (),
        "陈宅镇": (), "王家井镇": (), "应店街镇": (), "山下湖镇": (), "五泄镇": (),
        "东和乡": (), "东白湖镇": (),
    },
    "330683": {
        "剡湖街道": (), "鹿山街道": (), "三江街道": (), "浦口街道": (), "甘霖镇": (),
        "长乐镇": (), "崇仁镇": (), "黄泽镇": (), "石璜镇": (), "谷来镇": (), "仙岩镇": (),
        "三界镇": (), "金庭镇": (), "北漳镇": (), "下王镇": (), "贵门乡": (), "里南乡": (),
        "通源乡": (),
    },
    "330624": {
        "南明街道": (), "七星街道": (), "羽林街道": (), "沙溪镇": (), "儒岙镇": (),
        "回山镇": (), "镜岭镇": (), "大市聚镇": (), "澄潭镇": (), "梅渚镇": (), "小将镇": (),
        "城南乡": (), "东茗乡": (), "双彩乡": (), "巧英乡": (), "新林乡": (),
    },
    "330690": {"迪荡街道": (), "东湖街道": (), "皋埠街道": ()},
    "330691": {"斗门镇": (), "马山镇": (), "孙端镇": ()},
    "330692": {"沥海镇": (), "马鞍镇": ()},
}

# The real item of the seed city (docs/domain.md): one joint branch of two villages, due 6月底.
SEED_ITEM_COUNTY, SEED_ITEM_TOWNSHIP = "330602", "灵芝镇"
SEED_ITEM_VILLAGES = ("张市村", "大善村")


@dataclass(frozen=True)
class Problem:
    """A kind of problem as the seed reports word it; the placeholders are those of WORDS
    (村 or 社区 wording) and ``{n}``, a small figure."""

    category: str
    problem: str
    measure: str
    evidence: str


SEED_PROBLEM = Problem(
    "党员队伍",
    "个别党员大局意识不强、不配合支持“无违建村”创建工作",
    "每名党员写出《无违建承诺书》并向全村进行公示,党员带头拆除违章建筑",
    "《无违建承诺书》公示照片及违建拆除前后对比照片",
)

PROBLEMS: tuple[Problem, ...] = (
    Problem("软弱落后", "{org}党组织软弱涣散,班子不团结,战斗力不强",
            "镇党委选派第一书记驻{org}指导,调整充实班子,年底前实现整转", "整转验收表"),
    Problem("软弱落后", "{org}党组织书记长期不在{org},工作主动性不强",
            "落实{org}党组织书记坐班值班制度,镇党委每月督查一次", "坐班值班登记簿"),
    Problem("软弱落后", "{org}“两委”班子年龄结构老化,后备干部缺乏",
            "物色培养后备干部{n}名,纳入镇级后备干部库管理", "后备干部培养台账"),
    Problem("党员队伍", "个别党员不配合“三改一拆”工作,带头违建",
            "开展党员违建专项清理,党员签订承诺书并带头拆除违章建筑", "违建拆除前后对比照片"),
    Problem("党员队伍", "失联党员{n}名未纳入有效管理",
            "逐一查找失联党员,按“一人一档”建立台账,及时纳入党组织管理", "失联党员台账"),
    Problem("党员队伍", "流动党员管理不到位,长期不参加组织生活",
            "建立流动党员联系卡,通过微信群开展线上学习,每季度至少联系一次", "流动党员联系记录"),
    Problem("党员队伍", "党员先锋指数考评流于形式,积分制管理未落实",
            "完善党员先锋指数考评办法,党员积分按月上墙公示", "党员积分公示照片"),
    Problem("党员队伍", "连续{n}年未发展党员,党员队伍后继乏人",
            "制定发展党员计划,从青年农民和致富能手中培养入党积极分子", "入党积极分子培养登记表"),
    Problem("组织生活", "“三会一课”制度落实不到位,会议记录不全",
            "严格落实“三会一课”制度,规范会议记录并归档,镇党委每季度检查", "“三会一课”会议记录"),
    Problem("组织生活", "组织生活不规范,主题党日活动开展不经常",
            "每月固定一天开展“党员活动日”,活动情况上墙公示", "党员活动日签到表及照片"),
    Problem("组织生活", "民主评议党员工作走过场",
            "规范开展民主评议党员,评议结果向党员群众公开", "民主评议结果公示照片"),
    Problem("组织生活", "专题组织生活会批评与自我批评开展不够",
            "重新召开专题组织生活会,镇党委派员列席指导", "组织生活会会议记录"),
    Problem("组织生活", "{org}党组织书记全年未上党课",
            "{org}党组织书记每年至少上2次党课,建立讲课记录", "党课讲稿及签到表"),
    Problem("阵地建设", "{org}级组织活动场所面积不足,功能不全",
            "整合闲置校舍、粮站等资源,改扩建党群服务中心", "党群服务中心改造照片"),
    Problem("阵地建设", "党建阵地布置不规范,党徽党旗、入党誓词未上墙",
            "按统一标准规范布置党徽、党旗、入党誓词", "阵地布置照片"),
    Problem("阵地建设", "{office}被用于堆放杂物,未正常开放",
            "清理{office},落实每日开放和干部轮流值班制度", "清理后照片及值班表"),
    Problem("阵地建设", "党建档案资料管理混乱",
            "建立档案室,完善档案管理制度,“三会一课”记录规范归档", "档案室照片及归档目录"),
    Problem("集体经济", "{org}集体经济薄弱,年经营性收入不足{n}万元",
            "盘活闲置土地和房屋资源,发展物业经济,年经营性收入力争达到10万元以上",
            "集体经济收入台账"),
    Problem("集体经济", "集体经济发展缺乏项目支撑",
            "结对帮扶企业落实帮扶项目1个,培育特色主导产业", "帮扶项目协议书"),
    Problem("集体经济", "{org}级债务较重,化债措施不力",
            "制定化债计划,严控非生产性开支,每季度公开债务情况", "化债计划及债务公开照片"),
    Problem("村务公开", "{affairs}公开不及时,财务公开内容不全",
            "每月按时公开财务收支明细,规范设置公开栏,接受群众监督", "财务公开栏照片"),
    Problem("村务公开", "重大事项未严格落实“五议两公开”",
            "严格执行“五议两公开”决策程序,会议记录存档备查", "“五议两公开”会议记录"),
    Problem("村务公开", "{affairs}监督委员会作用发挥不明显",
            "调整充实监委会成员,建立监委会列席“两委”会议制度", "监委会列席会议记录"),
    Problem("服务群众", "联系服务群众不经常,群众反映问题解决不及时",
            "推行“民情通”走访,每月走访农户一遍并公示走访情况", "“民情通”走访笔记"),
    Problem("服务群众", "{org}干部坐班值班制度落实不到位",
            "落实干部轮流坐班,代办事项全程登记", "代办事项登记簿"),
    Problem("服务群众", "困难党员和困难群众帮扶措施不落实",
            "建立困难党员帮扶台账,落实结对帮扶责任人", "结对帮扶台账"),
    Problem("中心工作", "党员在“五水共治”中作用发挥不明显",
            "设置党员责任河段,党员包干河道保洁", "党员责任河段公示牌照片"),
    Problem("中心工作", "环境卫生整治不到位,党员示范带头不够",
            "开展党员清洁家园活动,划分党员卫生责任区", "党员卫生责任区照片"),
    Problem("作风建设", "{org}干部作风不实,工作推诿扯皮",
            "开展干部作风专项整治,实行群众满意度测评", "群众满意度测评表"),
)

SURNAMES = ("王", "陈", "张", "李", "金", "徐", "俞", "周", "钱", "孙", "赵", "吴", "杨", "何",
            "沈", "胡", "朱", "马", "冯", "章", "楼", "宣", "寿", "斯", "蔡", "丁", "傅", "韩")
TITLES = {"村": ("村党支部书记", "村党委书记", "村委会主任", "村党支部副书记"),
          "社区": ("社区党委书记", "社区党支部书记", "社区居委会主任")}
# How a problem reads in a village (村) or a community (社区).
WORDS = {"村": {"org": "村", "office": "村部", "affairs": "村务"},
         "社区": {"org": "社区", "office": "社区用房", "affairs": "居务"}}

# Pieces of village names: 东岙, 溪口, 王家, 永丰 ...
_PLACE_PREFIXES = "东西南北上下前后新大小高里外中"
_PLACES = "岙塘溪山岭湾桥坞岩埠浦港田畈湖江泉林竹岸洲坑门"
_PLACE_SUFFIXES = "头口下里脚前"
_AUSPICIOUS = ("永丰", "兴旺", "新民", "和平", "红星", "光明", "联合", "群益", "建设", "民主",
               "团结", "胜利", "长春", "富强", "安康", "丰收", "前进", "幸福", "五星", "朝阳",
               "青山", "绿水", "桃源", "梅林", "荷花", "金星", "银河", "凤鸣", "龙潭", "太平")


@dataclass(frozen=True)
class DemoItem:
    """One row of a county's problem list, and the status the demo drives it to."""

    county: str
    township: str
    village: str
    problem: str
    measure: str
    deadline: date
    responsible: str
    category: str
    public: bool
    status: str
    evidence: str


def village_counts() -> dict[str, int]:
    """Villages and communities per county: 2,681 shared in proportion to the problems
    (largest remainder, so the total is exact)."""
    exact = {c: n * VILLAGES_TOTAL / ITEMS_TOTAL for c, n in ITEMS_PER_COUNTY.items()}
    counts = {c: int(x) for c, x in exact.items()}
    by_remainder = sorted(exact, key=lambda c: (counts[c] - exact[c], c))
    for county in by_remainder[: VILLAGES_TOTAL - sum(counts.values())]:
        counts[county] += 1
    return counts


def build(today: date, seed: int = SEED) -> list[DemoItem]:
    """The city's 3,272 items, county by county in the order of ITEMS_PER_COUNTY."""
    villages_per_county = village_counts()
    items: list[DemoItem] = []
    for county, size in ITEMS_PER_COUNTY.items():
        rng = random.Random(f"{seed}:{county}")
        items.extend(_county_items(rng, county, size, villages_per_county[county], today))
    return items


def villages_of(item: DemoItem) -> tuple[str, ...]:
    """The villages an item concerns: one, or several for a joint branch (张市村、大善村)."""
    return tuple(item.village.split("、"))


def _county_items(rng: random.Random, county: str, size: int, village_count: int,
                  today: date) -> list[DemoItem]:
    villages = _villages(rng, county, village_count)
    # Every village has at least one item; the rest go to villages drawn at random.
    places: list[tuple[str, str]] = []
    if county == SEED_ITEM_COUNTY:
        joint = (SEED_ITEM_TOWNSHIP, "、".join(SEED_ITEM_VILLAGES))
        places.append(joint)
        villages = [v for v in villages
                    if not (v[0] == SEED_ITEM_TOWNSHIP and v[1] in SEED_ITEM_VILLAGES)]
    places.extend(villages)
    places.extend(rng.choices(villages, k=size - len(places)))
    statuses = _statuses(rng, size)
    if county == SEED_ITEM_COUNTY:
        # The seed's item was crossed off: it leads the list as a closed, posted item.
        statuses.insert(0, statuses.pop(statuses.index(CLOSED)))
    used: dict[tuple[str, str], set[int]] = {}
    items = []
    for index, ((township, village), status) in enumerate(zip(places, statuses, strict=True)):
        if county == SEED_ITEM_COUNTY and index == 0:
            items.append(_seed_item(rng, township, village, today))
            continue
        # A village's items are different problems, so (township, village, problem) is a key.
        taken = used.setdefault((township, village), set())
        choice = rng.choice([i for i in range(len(PROBLEMS)) if i not in taken])
        taken.add(choice)
        items.append(_item(rng, county, township, village, PROBLEMS[choice], status, today))
    return items


def _villages(rng: random.Random, county: str, count: int) -> list[tuple[str, str]]:
    """``count`` (township, village) pairs: known villages first, the rest named plausibly,
    unique within the county, every township with at least one."""
    townships = TOWNSHIPS[county]
    known = [(t, v) for t, vs in townships.items() for v in vs]
    weights = {t: rng.uniform(0.5, 1.5) for t in townships}
    extra = count - len(known)
    shares = {t: 1 + int((extra - len(townships)) * w / sum(weights.values()))
              for t, w in weights.items()}
    for township in rng.choices(list(townships), k=extra - sum(shares.values())):
        shares[township] += 1
    names = _name_pool(rng, exclude={v.removesuffix("村") for _, v in known})
    villages = list(known)
    for township, share in shares.items():
        for _ in range(share):
            base = names.pop()
            community = township.endswith("街道") and rng.random() < 0.7
            villages.append((township, base + ("社区" if community else "村")))
    return villages


def _name_pool(rng: random.Random, exclude: set[str]) -> list[str]:
    names = {p + q for p in _PLACE_PREFIXES for q in _PLACES}
    names |= {p + s for p in _PLACES for s in _PLACE_SUFFIXES}
    names |= {s + suffix for s in SURNAMES for suffix in ("家", "宅", "店")}
    names |= set(_AUSPICIOUS)
    pool = sorted(names - exclude)
    rng.shuffle(pool)
    return pool


def _statuses(rng: random.Random, size: int) -> list[str]:
    """Exactly ``size`` statuses in the city's shares, tilted per county so that the ranking
    has a top and a bottom."""
    tilt = rng.uniform(-0.1, 0.1)
    shares = dict(STATUS_SHARES)
    shares[CLOSED] += tilt
    shares[OPEN] -= tilt / 2
    shares[IN_PROGRESS] -= tilt / 2
    counts = {s: int(size * share) for s, share in shares.items()}
    for status in sorted(shares, key=lambda s: counts[s] - size * shares[s])[
            : size - sum(counts.values())]:
        counts[status] += 1
    statuses = [s for s, n in counts.items() for _ in range(n)]
    rng.shuffle(statuses)
    return statuses


def _deadline(rng: random.Random, status: str, today: date) -> date:
    """Mostly 月底 (end of a month), as the lists word it. Closed items were due in the past
    months or soon; the others mostly later, some already past (overdue)."""
    months = range(-8, 2) if status == CLOSED else range(-3, 8)
    weights = [1 if m < 0 else 2 for m in months]
    offset = rng.choices(months, weights=weights)[0]
    month_end = _month_end(today, offset)
    return month_end if rng.random() < 0.85 else month_end.replace(day=15)


def _month_end(today: date, offset: int) -> date:
    year, month = divmod(today.year * 12 + today.month + offset, 12)  # the month after, 0-based
    return date(year, month + 1, 1) - timedelta(days=1)


def _responsible(rng: random.Random, village: str) -> str:
    return f"{rng.choice(TITLES[_kind(village)])} {rng.choice(SURNAMES)}某某"


def _kind(village: str) -> str:
    return "社区" if village.endswith("社区") else "村"


def _item(rng: random.Random, county: str, township: str, village: str, problem: Problem,
          status: str, today: date) -> DemoItem:
    words = WORDS[_kind(village)] | {"n": rng.randint(2, 5)}
    return DemoItem(
        county=county, township=township, village=village,
        problem=problem.problem.format(**words), measure=problem.measure.format(**words),
        deadline=_deadline(rng, status, today), responsible=_responsible(rng, village),
        category=problem.category, public=rng.random() < PUBLIC_SHARE, status=status,
        evidence=problem.evidence)


def _seed_item(rng: random.Random, township: str, village: str, today: date) -> DemoItem:
    june = date(today.year if today.month >= 7 else today.year - 1, 6, 30)  # the last 6月底
    return DemoItem(
        county=SEED_ITEM_COUNTY, township=township, village=village,
        problem=SEED_PROBLEM.problem, measure=SEED_PROBLEM.measure, deadline=june,
        responsible=f"村党支部书记 {rng.choice(SURNAMES)}某某", category=SEED_PROBLEM.category,
        public=True, status=CLOSED, evidence=SEED_PROBLEM.evidence)


def by_county(items: list[DemoItem]) -> Iterator[tuple[str, list[DemoItem]]]:
    """The items grouped per county, in the order they first appear."""
    grouped: dict[str, list[DemoItem]] = {}
    for item in items:
        grouped.setdefault(item.county, []).append(item)
    yield from grouped.items()


PROVINCE_ITEMS = 100_000


def province_counts(region: Region, total: int) -> dict[str, int]:
    """Items per county in proportion to its villages and communities (the seed city has 1.22
    problems per village screened; at 100,000 a province has about four), largest remainder."""
    villages: dict[str, int] = {}
    for division in region.by_code.values():
        if division.level == VILLAGE:
            villages[division.code[:6]] = villages.get(division.code[:6], 0) + 1
    all_villages = sum(villages.values())
    exact = {c: n * total / all_villages for c, n in sorted(villages.items())}
    counts = {c: int(x) for c, x in exact.items()}
    for county in sorted(exact, key=lambda c: (counts[c] - exact[c], c))[
            : total - sum(counts.values())]:
        counts[county] += 1
    return counts


def build_province(region: Region, today: date, seed: int = SEED,
                   total: int = PROVINCE_ITEMS) -> list[DemoItem]:
    """``total`` items over the region's counties, county by county in code order, each in a
    real village of the county as a list writes it (管墅社区, 梅墅村) under its township."""
    items: list[DemoItem] = []
    for county, size in province_counts(region, total).items():
        rng = random.Random(f"{seed}:province:{county}")
        places = [(region.by_code[v.parent].name, written_name(v.name))
                  for t in region.children(county) for v in region.children(t.code)]
        items.extend(_province_county_items(rng, county, size, places, today))
    return items


def _province_county_items(rng: random.Random, county: str, size: int,
                           places: list[tuple[str, str]], today: date) -> list[DemoItem]:
    """Every village one item, the rest drawn at random; a village's items are different
    problems, as in the seed city."""
    chosen = list(places[:size]) + rng.choices(places, k=max(size - len(places), 0))
    used: dict[tuple[str, str], set[int]] = {}
    items = []
    for (township, village), status in zip(chosen, _statuses(rng, size), strict=True):
        taken = used.setdefault((township, village), set())
        free = [i for i in range(len(PROBLEMS)) if i not in taken] or list(range(len(PROBLEMS)))
        choice = rng.choice(free)
        taken.add(choice)
        items.append(_item(rng, county, township, village, PROBLEMS[choice], status, today))
    return items
