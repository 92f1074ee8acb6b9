"""What each import takes: its columns (Chinese and English headers) and the template's example row."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    key: str
    zh: str
    en: str
    note_zh: str
    example: str
    required: bool = True


@dataclass(frozen=True)
class ImportKind:
    name: str
    zh: str
    fields: tuple[Field, ...]


UNIT_REF = (
    Field("building", "楼栋", "building", "已在系统中建立的楼栋名称", "1栋"),
    Field("number", "房号", "unit", "楼栋内唯一", "101"),
)

# Whose balance (optional): empty for the unit's owner on the period's first day (on the credit's
# day); named for a seller's periods after a sale, or the two shares of a period split by a handover.
OWNER_REF = (
    Field("owner_name", "业主姓名", "owner name", "可空：空为该期间首日的业主；过户后原业主的欠费填原业主", "", False),
    Field("owner_phone", "业主手机号", "owner phone", "与业主姓名一起填写", "", False),
)

KINDS: dict[str, ImportKind] = {
    k.name: k
    for k in (
        ImportKind(
            "units",
            "房屋",
            (
                *UNIT_REF,
                Field("area", "建筑面积", "floor area", "平方米，正数，最多四位小数", "89.50"),
                Field(
                    "use", "用途", "use", "住宅、商业或车位（residential/commercial/parking），空为住宅", "住宅", False
                ),
            ),
        ),
        ImportKind(
            "owners",
            "业主",
            (
                Field("name", "姓名", "name", "业主姓名；与手机号一起识别业主", "张三"),
                Field(
                    "phone",
                    "手机号",
                    "phone",
                    "11位中国大陆手机号码；境外号码写国家或地区代码，如 +852 5123 4567",
                    "13800138000",
                ),
                Field("id_number", "证件号码", "ID number", "身份证号等，可空", "110101198001010011", False),
                Field("postal_address", "联系地址", "contact address", "可空", "XX市XX路1号1栋101", False),
                Field("channel", "通知方式", "channel", "纸质、短信、微信或邮件，空为纸质", "短信", False),
            ),
        ),
        ImportKind(
            "ownerships",
            "产权",
            (
                *UNIT_REF,
                Field("name", "业主姓名", "owner name", "已导入的业主", "张三"),
                Field("phone", "业主手机号", "owner phone", "已导入的业主的手机号", "13800138000"),
                Field("starts_on", "开始日期", "starts on", "交房（过户）日期，YYYY-MM-DD", "2020-05-01"),
                Field("ends_on", "结束日期", "ends on", "最后一天，仍为业主则空", "", False),
            ),
        ),
        ImportKind(
            "balances",
            "期初欠费",
            (
                *UNIT_REF,
                Field(
                    "period", "期间", "period", "所欠费用的期间 YYYY-MM，不能在未来；业主为该期间首日的业主", "2025-06"
                ),
                Field("item", "收费项目", "item", "收费项目代码，如 service_fee", "service_fee"),
                Field(
                    "due_date",
                    "应缴日期",
                    "due date",
                    "YYYY-MM-DD；空为按本小区的缴费日计算（账龄和诉讼时效从此日起算）",
                    "2025-06-15",
                    False,
                ),
                Field("amount", "欠费金额", "amount", "尚欠本金，元，精确到分；为0时须填原应收金额和违约金", "256.80"),
                Field(
                    "charged",
                    "原应收金额",
                    "charged",
                    "该期间原应收的金额，元；空为等于欠费金额（已收部分记为原系统已收）",
                    "256.80",
                    False,
                ),
                Field("source", "来源系统", "source system", "原系统名称，作为欠费的依据记录", "原物业收费系统"),
                *OWNER_REF,
                Field(
                    "late_fee",
                    "违约金",
                    "late fee",
                    "截至余额日期该笔欠费未付的违约金，元；空为0（填写时须填余额日期）",
                    "12.30",
                    False,
                ),
                Field(
                    "as_of",
                    "余额日期",
                    "as of",
                    "欠费和违约金所截至的日期 YYYY-MM-DD；填写后本系统从次日起计违约金，空则从应缴日起计",
                    "2026-01-01",
                    False,
                ),
                Field(
                    "interrupted_on",
                    "时效中断日",
                    "limitation interrupted on",
                    "该期间诉讼时效最近一次中断的日期 YYYY-MM-DD，可空",
                    "2025-08-20",
                    False,
                ),
                Field(
                    "interruption",
                    "中断方式",
                    "interruption",
                    "催告送达、书面确认、部分付款或起诉（demand_delivered/acknowledgement/part_payment/legal_action）",
                    "催告送达",
                    False,
                ),
            ),
        ),
        ImportKind(
            "credits",
            "期初预存",
            (
                *UNIT_REF,
                Field("amount", "预存余额", "amount", "元，精确到分，大于0", "600.00"),
                Field("as_of", "余额日期", "as of", "余额所在日期 YYYY-MM-DD，不能在未来", "2026-01-01"),
                Field("source", "来源系统", "source system", "原系统名称", "原物业收费系统"),
                *OWNER_REF,
            ),
        ),
    )
}
