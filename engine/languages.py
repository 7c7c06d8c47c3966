"""Languages a user's profile may ask answers in: the ISO 639-1 codes (with BCP 47 script and
region subtags) and the languages' English, French and native names.

A profile's ``language`` is the one profile value that becomes an instruction ("Answer in
French."), so only a language from this list is passed on, by its English name; anything else
("Pirate", a sentence) is ignored, not refused.
"""

from __future__ import annotations

import re
import unicodedata

# ISO 639-1, with the English name the answering model is told.
ISO_639_1: dict[str, str] = {
    "aa": "Afar", "ab": "Abkhazian", "ae": "Avestan", "af": "Afrikaans", "ak": "Akan",
    "am": "Amharic", "an": "Aragonese", "ar": "Arabic", "as": "Assamese", "av": "Avaric",
    "ay": "Aymara", "az": "Azerbaijani", "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian",
    "bi": "Bislama", "bm": "Bambara", "bn": "Bengali", "bo": "Tibetan", "br": "Breton",
    "bs": "Bosnian", "ca": "Catalan", "ce": "Chechen", "ch": "Chamorro", "co": "Corsican",
    "cr": "Cree", "cs": "Czech", "cu": "Church Slavonic", "cv": "Chuvash", "cy": "Welsh",
    "da": "Danish", "de": "German", "dv": "Divehi", "dz": "Dzongkha", "ee": "Ewe",
    "el": "Greek", "en": "English", "eo": "Esperanto", "es": "Spanish", "et": "Estonian",
    "eu": "Basque", "fa": "Persian", "ff": "Fulah", "fi": "Finnish", "fj": "Fijian",
    "fo": "Faroese", "fr": "French", "fy": "Western Frisian", "ga": "Irish",
    "gd": "Scottish Gaelic", "gl": "Galician", "gn": "Guarani", "gu": "Gujarati", "gv": "Manx",
    "ha": "Hausa", "he": "Hebrew", "hi": "Hindi", "ho": "Hiri Motu", "hr": "Croatian",
    "ht": "Haitian Creole", "hu": "Hungarian", "hy": "Armenian", "hz": "Herero",
    "ia": "Interlingua", "id": "Indonesian", "ie": "Interlingue", "ig": "Igbo",
    "ii": "Sichuan Yi", "ik": "Inupiaq", "io": "Ido", "is": "Icelandic", "it": "Italian",
    "iu": "Inuktitut", "ja": "Japanese", "jv": "Javanese", "ka": "Georgian", "kg": "Kongo",
    "ki": "Kikuyu", "kj": "Kuanyama", "kk": "Kazakh", "kl": "Kalaallisut", "km": "Khmer",
    "kn": "Kannada", "ko": "Korean", "kr": "Kanuri", "ks": "Kashmiri", "ku": "Kurdish",
    "kv": "Komi", "kw": "Cornish", "ky": "Kyrgyz", "la": "Latin", "lb": "Luxembourgish",
    "lg": "Ganda", "li": "Limburgish", "ln": "Lingala", "lo": "Lao", "lt": "Lithuanian",
    "lu": "Luba-Katanga", "lv": "Latvian", "mg": "Malagasy", "mh": "Marshallese", "mi": "Maori",
    "mk": "Macedonian", "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay",
    "mt": "Maltese", "my": "Burmese", "na": "Nauru", "nb": "Norwegian Bokmål",
    "nd": "North Ndebele", "ne": "Nepali", "ng": "Ndonga", "nl": "Dutch",
    "nn": "Norwegian Nynorsk", "no": "Norwegian", "nr": "South Ndebele", "nv": "Navajo",
    "ny": "Chichewa", "oc": "Occitan", "oj": "Ojibwe", "om": "Oromo", "or": "Odia",
    "os": "Ossetian", "pa": "Punjabi", "pi": "Pali", "pl": "Polish", "ps": "Pashto",
    "pt": "Portuguese", "qu": "Quechua", "rm": "Romansh", "rn": "Kirundi", "ro": "Romanian",
    "ru": "Russian", "rw": "Kinyarwanda", "sa": "Sanskrit", "sc": "Sardinian", "sd": "Sindhi",
    "se": "Northern Sami", "sg": "Sango", "si": "Sinhala", "sk": "Slovak", "sl": "Slovenian",
    "sm": "Samoan", "sn": "Shona", "so": "Somali", "sq": "Albanian", "sr": "Serbian",
    "ss": "Swati", "st": "Southern Sotho", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili",
    "ta": "Tamil", "te": "Telugu", "tg": "Tajik", "th": "Thai", "ti": "Tigrinya",
    "tk": "Turkmen", "tl": "Tagalog", "tn": "Tswana", "to": "Tongan", "tr": "Turkish",
    "ts": "Tsonga", "tt": "Tatar", "tw": "Twi", "ty": "Tahitian", "ug": "Uyghur",
    "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek", "ve": "Venda", "vi": "Vietnamese",
    "vo": "Volapük", "wa": "Walloon", "wo": "Wolof", "xh": "Xhosa", "yi": "Yiddish",
    "yo": "Yoruba", "za": "Zhuang", "zh": "Chinese", "zu": "Zulu",
}  # fmt: skip

# Other names people write, each for a code or a tag: English variants, French, native.
_OTHER_NAMES: dict[str, str] = {
    # English variants
    "farsi": "fa", "flemish": "nl", "castilian": "es", "moldovan": "ro", "panjabi": "pa",
    "sinhalese": "si", "gaelic": "gd", "kirghiz": "ky", "uighur": "ug", "pushto": "ps",
    "oriya": "or", "haitian": "ht", "chewa": "ny", "nyanja": "ny", "filipino": "tl",
    "mandarin": "zh", "bokmal": "nb", "nynorsk": "nn", "valencian": "ca", "slovene": "sl",
    "dhivehi": "dv", "maldivian": "dv", "greenlandic": "kl", "ojibwa": "oj", "navaho": "nv",
    "simplified chinese": "zh-Hans", "traditional chinese": "zh-Hant",
    "brazilian portuguese": "pt-BR", "european portuguese": "pt-PT",
    "canadian french": "fr-CA", "british english": "en-GB", "american english": "en-US",
    "mexican spanish": "es-MX", "swiss german": "de-CH",
    # French
    "anglais": "en", "français": "fr", "allemand": "de", "espagnol": "es", "italien": "it",
    "portugais": "pt", "néerlandais": "nl", "russe": "ru", "chinois": "zh", "japonais": "ja",
    "coréen": "ko", "arabe": "ar", "turc": "tr", "polonais": "pl", "suédois": "sv",
    "norvégien": "no", "danois": "da", "finnois": "fi", "grec": "el", "hébreu": "he",
    "tchèque": "cs", "slovaque": "sk", "hongrois": "hu", "roumain": "ro", "bulgare": "bg",
    "ukrainien": "uk", "croate": "hr", "serbe": "sr", "slovène": "sl", "vietnamien": "vi",
    "thaï": "th", "indonésien": "id", "malais": "ms", "persan": "fa", "ourdou": "ur",
    "gallois": "cy", "irlandais": "ga", "islandais": "is", "estonien": "et", "letton": "lv",
    "lituanien": "lt", "albanais": "sq", "arménien": "hy", "géorgien": "ka", "tamoul": "ta",
    "luxembourgeois": "lb", "corse": "co", "basque": "eu", "catalan": "ca", "breton": "br",
    "bengali": "bn", "swahili": "sw", "latin": "la", "occitan": "oc", "wolof": "wo",
    # native
    "english": "en", "deutsch": "de", "español": "es", "italiano": "it", "português": "pt",
    "nederlands": "nl", "русский": "ru", "中文": "zh", "汉语": "zh", "普通话": "zh",
    "日本語": "ja", "한국어": "ko", "العربية": "ar", "हिन्दी": "hi", "türkçe": "tr",
    "polski": "pl", "svenska": "sv", "norsk": "no", "dansk": "da", "suomi": "fi",
    "ελληνικά": "el", "עברית": "he", "čeština": "cs", "slovenčina": "sk", "magyar": "hu",
    "română": "ro", "български": "bg", "українська": "uk", "hrvatski": "hr", "српски": "sr",
    "srpski": "sr", "slovenščina": "sl", "tiếng việt": "vi", "ไทย": "th",
    "bahasa indonesia": "id", "bahasa melayu": "ms", "فارسی": "fa", "اردو": "ur",
    "বাংলা": "bn", "català": "ca", "euskara": "eu", "brezhoneg": "br", "cymraeg": "cy",
    "gaeilge": "ga", "íslenska": "is", "eesti": "et", "latviešu": "lv", "lietuvių": "lt",
    "shqip": "sq", "հայերեն": "hy", "ქართული": "ka", "kiswahili": "sw", "தமிழ்": "ta",
    "latina": "la", "lëtzebuergesch": "lb", "galego": "gl", "bosanski": "bs",
    "македонски": "mk", "қазақ тілі": "kk", "oʻzbekcha": "uz", "беларуская": "be",
    "af-soomaali": "so", "isizulu": "zu", "isixhosa": "xh", "te reo māori": "mi",
}  # fmt: skip

_SUBTAG = re.compile(r"^(?:[A-Za-z]{4}|[A-Za-z]{2}|[0-9]{3})$")  # script or region


def _folded(text: str) -> str:
    # "Français", "francais" and "FRANÇAIS" are one name.
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()).casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


_BY_NAME: dict[str, str] = {_folded(name): code for code, name in ISO_639_1.items()}
_BY_NAME.update({_folded(name): tag for name, tag in _OTHER_NAMES.items()})


def _tag(value: str) -> str | None:
    """``value`` as a BCP 47 tag with an ISO 639-1 language (``pt-BR``, ``zh-Hans``), or None."""
    primary, *rest = value.replace("_", "-").split("-")
    if primary.lower() not in ISO_639_1 or len(rest) > 2:
        return None
    if not all(_SUBTAG.match(part) for part in rest):
        return None
    subtags = [part.title() if len(part) == 4 else part.upper() for part in rest]
    return "-".join([primary.lower(), *subtags])


def language_name(value: str | None) -> str | None:
    """How to name ``value``'s language to the model ("French", "Portuguese (pt-BR)"); None
    when it is not a known language."""
    if not value or len(value) > 40:
        return None
    tag = _tag(value.strip()) or _BY_NAME.get(_folded(value))
    if tag is None:
        return None
    code, _, rest = tag.partition("-")
    name = ISO_639_1[code]
    return f"{name} ({tag})" if rest else name


def language_code(value: str | None) -> str | None:
    """``value``'s ISO 639-1 code ("fr" for "Français", "fr-CA" or "FR"); None when it is not
    a known language."""
    if not value or len(value) > 40:
        return None
    tag = _tag(value.strip()) or _BY_NAME.get(_folded(value))
    return tag.partition("-")[0] if tag else None
