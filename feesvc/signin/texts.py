"""What sign-in says to owners, in zh_CN (first), zh_TW and en; and which of them a request wants."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

LOCALES = ("zh_CN", "zh_TW", "en")
DEFAULT_LOCALE = "zh_CN"

TEXTS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "code_sms": "您的业主服务登录验证码为 {code}，{minutes} 分钟内有效，仅可使用一次。"
        "请勿告诉他人，工作人员不会向您索要验证码。",
        "code_subject": "登录验证码",
        "invitation_sms": "您好，请打开以下链接登录业主服务页面，查看账单、缴费和报修：{link} "
        "（{days} 天内有效，仅可使用一次）",
        "invitation_subject": "业主服务邀请",
        "title": "业主登录",
        "phone_label": "登记的手机号码",
        "send_code": "获取验证码",
        "code_sent": "如该号码已登记，验证码已发送，{minutes} 分钟内有效。",
        "code_label": "6 位验证码",
        "sign_in": "登录",
        "another_code": "重新获取验证码",
        "bad_phone": "请输入手机号码（5 至 20 位数字）。",
        "bad_code": "验证码不正确、已使用或已过期，请重新获取。",
        "too_many": "尝试次数过多，请 {minutes} 分钟后再试。",
        "invitation_bad": "该邀请链接无效、已使用或已过期。请使用手机号码和验证码登录。",
        "signed_out": "您已退出登录。",
        "sign_out": "退出登录",
        "expired": "登录已过期，请重新登录。",
    },
    "zh_TW": {
        "code_sms": "您的業主服務登入驗證碼為 {code}，{minutes} 分鐘內有效，僅可使用一次。"
        "請勿告訴他人，工作人員不會向您索取驗證碼。",
        "code_subject": "登入驗證碼",
        "invitation_sms": "您好，請開啟以下連結登入業主服務頁面，查看帳單、繳費和報修：{link} "
        "（{days} 天內有效，僅可使用一次）",
        "invitation_subject": "業主服務邀請",
        "title": "業主登入",
        "phone_label": "登記的手機號碼",
        "send_code": "取得驗證碼",
        "code_sent": "如該號碼已登記，驗證碼已發送，{minutes} 分鐘內有效。",
        "code_label": "6 位驗證碼",
        "sign_in": "登入",
        "another_code": "重新取得驗證碼",
        "bad_phone": "請輸入手機號碼（5 至 20 位數字）。",
        "bad_code": "驗證碼不正確、已使用或已過期，請重新取得。",
        "too_many": "嘗試次數過多，請 {minutes} 分鐘後再試。",
        "invitation_bad": "該邀請連結無效、已使用或已過期。請使用手機號碼和驗證碼登入。",
        "signed_out": "您已登出。",
        "sign_out": "登出",
        "expired": "登入已過期，請重新登入。",
    },
    "en": {
        "code_sms": "Your owner sign-in code is {code}. It works once, within {minutes} minutes. "
        "Do not share it: staff never ask for it.",
        "code_subject": "Sign-in code",
        "invitation_sms": "Open this link to sign in to your owner page (statement, payment, repairs): {link} "
        "(valid {days} days, once)",
        "invitation_subject": "Owner page invitation",
        "title": "Owner sign-in",
        "phone_label": "Phone number on record",
        "send_code": "Send me a code",
        "code_sent": "If the number is on record, a code is on its way; it works for {minutes} minutes.",
        "code_label": "6-digit code",
        "sign_in": "Sign in",
        "another_code": "Send another code",
        "bad_phone": "Enter your phone number (5 to 20 digits).",
        "bad_code": "The code is wrong, used or expired; ask for a new one.",
        "too_many": "Too many attempts; try again in {minutes} minutes.",
        "invitation_bad": "This invitation link is invalid, used or expired. Sign in with your phone and a code.",
        "signed_out": "You are signed out.",
        "sign_out": "Sign out",
        "expired": "Your sign-in has expired; please sign in again.",
    },
}

_HTML_LANG = {"zh_CN": "zh-Hans-CN", "zh_TW": "zh-Hant-TW", "en": "en"}


def owner_locale(locale: str | None) -> str:
    """The locale of an owner's or estate's setting (zh_HK reads traditional characters)."""
    if locale in LOCALES:
        return locale
    return "zh_TW" if locale == "zh_HK" else DEFAULT_LOCALE


def text(locale: str, key: str, **values: object) -> str:
    return TEXTS[owner_locale(locale)][key].format(**values)


def html_lang(locale: str) -> str:
    return _HTML_LANG[locale]


def request_locale(lang: str | None, accept_language: str | None) -> str:
    """``?lang=`` if it names one of ours, else the best of Accept-Language, else zh_CN."""
    if lang:
        chosen = _parse(lang)
        if chosen is not None:
            return chosen
    wanted = []
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            wanted.append((quality, tag))
    preferred = [tag for _, tag in sorted(wanted, key=lambda item: -item[0])]
    for tag in preferred:
        chosen = _parse(tag)
        if chosen is not None:
            return chosen
    return DEFAULT_LOCALE


def _parse(tag: str) -> str | None:
    """One of our locales for a language tag (zh-Hant, zh-HK and zh-TW read traditional)."""
    try:
        locale = Locale.parse(tag.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    if locale.language == "en":
        return "en"
    if locale.language == "zh":
        traditional = locale.script == "Hant" or (locale.script is None and locale.territory in ("TW", "HK", "MO"))
        return "zh_TW" if traditional else "zh_CN"
    return None
