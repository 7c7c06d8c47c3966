"""Words that name units, currencies, months and weekdays, in English and French, each mapped
to one canonical name so "3 jours" and "3 days" compare equal."""

from __future__ import annotations

from engine.verify.text import wordset


def _table(groups: dict[str, str]) -> dict[str, str]:
    return {word: canonical for canonical, spelt in groups.items() for word in spelt.split()}


# Units after a number, lower-cased surface -> canonical. Durations first: they convert.
UNITS = _table(
    {
        "second": "second seconds sec secs seconde secondes",
        "minute": "minute minutes min mins mn",
        "hour": "hour hours hr hrs h heure heures",
        "day": "day days jour jours journée journées journee journees",
        "week": "week weeks wk wks semaine semaines",
        "month": "month months mois",
        "year": "year years yr yrs an ans année années annee annees",
        "%": "% percent pct pourcent",
        "EUR": "€ eur euro euros",
        "USD": "$ usd dollar dollars",
        "GBP": "£ gbp",
        "CHF": "chf franc francs",
        "JPY": "¥ jpy yen",
        "KB": "kb kib kilobyte kilobytes",
        "MB": "mb mib megabyte megabytes mbyte",
        "GB": "gb gib gigabyte gigabytes",
        "TB": "tb tib terabyte terabytes",
        "bit/s": "bps",
        "Mbit/s": "mbps mbit mbits",
        "Gbit/s": "gbps gbit gbits",
        "mm": "mm millimetre millimetres millimeter millimeters millimètre millimètres",
        "cm": "cm centimetre centimetres centimeter centimeters centimètre centimètres",
        "m": "m metre metres meter meters mètre mètres",
        "km": "km kilometre kilometres kilometer kilometers kilomètre kilomètres",
        "mile": "mile miles mi",
        "ft": "ft foot feet",
        "inch": "inch inches",
        "mg": "mg milligram milligrams milligramme milligrammes",
        "g": "g gram grams gramme grammes",
        "kg": "kg kilo kilos kilogram kilograms kilogramme kilogrammes",
        "lb": "lb lbs pound pounds",
        "oz": "oz ounce ounces",
        "tonne": "ton tons tonne tonnes",
        "ml": "ml millilitre millilitres milliliter milliliters",
        "cl": "cl centilitre centilitres",
        "l": "l litre litres liter liters",
        "gallon": "gallon gallons gal",
        "W": "w watt watts",
        "kW": "kw kilowatt kilowatts",
        "kWh": "kwh",
        "V": "v volt volts",
        "mAh": "mah",
        "Hz": "hz hertz",
        "kHz": "khz",
        "MHz": "mhz",
        "GHz": "ghz",
        "mph": "mph",
        "km/h": "kph kmh",
        "cal": "cal calorie calories",
        "kcal": "kcal",
        "deg": "° degree degrees degré degrés degre degres",
        "px": "px pixel pixels",
        "dpi": "dpi",
    }
)
# French octets, only in this exact case ("Go", not "go"; "To", not "to").
CASED_UNITS = {"Ko": "KB", "Mo": "MB", "Go": "GB", "To": "TB", "o": "B", "octets": "B"}
SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
CURRENCIES = frozenset({"EUR", "USD", "GBP", "CHF", "JPY"})
# Words allowed between a number and its unit: "5 working days", "30 calendar days".
UNIT_QUALIFIERS = wordset(
    """working business calendar full consecutive clear paid unpaid additional extra whole
    entire more ouvrés ouvrables calendaires consécutifs consécutives pleins pleines entiers
    entières supplémentaires"""
)
PERCENT_PHRASES = (("per", "cent"), ("pour", "cent"))
SCALES = {
    "thousand": 1e3,
    "thousands": 1e3,
    "mille": 1e3,
    "k": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "milliard": 1e9,
    "milliards": 1e9,
}

MONTHS = {
    **_table(
        {
            "1": "january janvier janv jan",
            "2": "february février fevrier févr fevr feb",
            "3": "march mars mar",
            "4": "april avril avr apr",
            "5": "may mai",
            "6": "june juin jun",
            "7": "july juillet juil jul",
            "8": "august août aout aug",
            "9": "september septembre sept sep",
            "10": "october octobre oct",
            "11": "november novembre nov",
            "12": "december décembre decembre déc dec",
        }
    )
}
# Month words that are also ordinary words: months only next to a day or a year.
MONTHS_NEEDING_CONTEXT = wordset(
    "may mar jan feb apr jun jul aug sep sept oct nov dec janv févr fevr avr juil déc"
)
WEEKDAYS = _table(
    {
        "0": "monday mondays lundi lundis",
        "1": "tuesday tuesdays mardi mardis",
        "2": "wednesday wednesdays mercredi mercredis",
        "3": "thursday thursdays jeudi jeudis",
        "4": "friday fridays vendredi vendredis",
        "5": "saturday saturdays samedi samedis",
        "6": "sunday sundays dimanche dimanches",
    }
)
ORDINAL_SUFFIXES = frozenset({"st", "nd", "rd", "th", "er", "re", "e", "ème", "eme", "è"})
# Capitalised words that are not names even inside a sentence.
NOT_NAMES = wordset("i ok yes no note please internet web email e-mail tv id")
