# ruff: noqa: E501  (a table of questions: one question per line reads best)
"""Build data/eval/msmarco-answers/answers.jsonl over the shared MS MARCO subset (not copied)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import EVAL_DIR
from _questions import Answerable as A
from _questions import Unanswerable as U
from _questions import write_questions

MSMARCO = EVAL_DIR.parents[1].parent / "shared" / "data" / "beir" / "msmarco"

# Every passage listed is judged relevant (score > 0) in MS MARCO's own qrels; checked below.
ANSWERABLE = [
    A("mm01", "In what year was Legionnaires' disease first identified?", ["1976"], {"8731625": 2}),
    A(
        "mm02",
        "What does a synaptic knob turn the action potential into?",
        ["chemical message"],
        {"8641104": 2},
    ),
    A(
        "mm03",
        "Above which blood pressure reading does hypertension start to cause left ventricular hypertrophy?",
        ["140/90 mm Hg"],
        {"8683185": 2},
    ),
    A(
        "mm04",
        "How many Fort Carson soldiers were surveyed about why they attempted suicide?",
        ["72 soldiers"],
        {"8333916": 2},
    ),
    A(
        "mm05",
        "What is the basic price of a polished concrete floor up to 800 grit?",
        ["$3.00 per square foot"],
        {"8546162": 2},
    ),
    A(
        "mm06",
        "What does a declaratory judgment leave out compared with other rulings?",
        ["without ordering anything to be done", "does not order an action"],
        {"8612910": 2, "8612906": 2},
    ),
    A(
        "mm07",
        "What is SIGMET short for?",
        ["Significant Meteorological Information"],
        {"985994": 2},
    ),
    A(
        "mm08",
        "How many slices of cheese does a McDouble have?",
        ["1 slice of cheese", "one slice of cheese", "a slice of American cheese"],
        {"8434625": 2, "8434626": 2, "8434624": 2},
    ),
    A(
        "mm09",
        "How long does it take to earn a BSN at a four-year university, prerequisites included?",
        ["four to six years"],
        {"2455774": 2},
    ),
    A(
        "mm10",
        "What body length is a good size for most fancy goldfish varieties?",
        ["5 inches"],
        {"6139386": 2},
    ),
    A(
        "mm11",
        "By how much can warm-bodied sharks raise their body temperature above the surrounding water?",
        ["13 C"],
        {"8273761": 2},
    ),
    A(
        "mm12",
        "How much more food does a warm-bodied shark need than a cold-bodied one of the same size?",
        ["more than ten times as much food"],
        {"8273760": 2},
    ),
    A(
        "mm13",
        "How long does an adult flea survive once it has no host?",
        ["between 2 and 14 days"],
        {"8801661": 2},
    ),
    A(
        "mm14",
        "How do you compute the length of a trapezoid's midsegment?",
        ["average of the lengths of the bases", "sum of the two bases divided by 2"],
        {"943229": 2, "68648": 2},
    ),
    A(
        "mm15",
        "How far is Charles de Gaulle airport from Disneyland Paris?",
        ["40 km"],
        {"7896211": 2},
    ),
    A(
        "mm16",
        "What is the ICAO code of Paris Charles de Gaulle airport?",
        ["LFPG"],
        {"7728831": 2, "7896211": 2},
    ),
    A(
        "mm17",
        "What is the full name of California's LPS Act?",
        ["Lanterman-Petris-Short Act"],
        {"8536123": 2},
    ),
    A(
        "mm18",
        "How long is the involuntary hold under California code 5150?",
        ["72 Hour Hold"],
        {"8760085": 2},
    ),
    A("mm19", "In which year did Rivest, Shamir and Adleman invent RSA?", ["1977"], {"4842890": 2}),
    A(
        "mm20",
        "What are the three major kinds of dysarthria seen in cerebral palsy?",
        ["spastic, dyskinetic (athetosis) and ataxic"],
        {"8617271": 2},
    ),
    A(
        "mm21",
        "How many determinants of population health do scientists generally recognise?",
        ["five determinants of health"],
        {"87404": 2, "87400": 2},
    ),
    A(
        "mm22",
        "In what year did William Booth start the Salvation Army?",
        ["1865"],
        {"8785371": 2, "8785367": 2, "6980697": 2},
    ),
    A("mm23", "In which town was the explorer Robert Gray born?", ["Tiverton"], {"8760871": 2}),
    A(
        "mm24",
        "Which ship gave the Columbia River its name?",
        ["Columbia Rediviva"],
        {"3641634": 2},
    ),
    A(
        "mm25",
        "On what date was the Commonwealth of Independent States set up?",
        ["December 8, 1991", "December 8 1991"],
        {"8220089": 2, "8220085": 2},
    ),
    A(
        "mm26",
        "Over what distance can a wireless headset pick up a signal?",
        ["100 feet (30 meters)"],
        {"8160524": 2},
    ),
    A(
        "mm27",
        "What encryption does Bluetooth 4.0 use to protect data?",
        ["AES 128-bit encryption"],
        {"5049363": 2},
    ),
    A(
        "mm28",
        "What does the Thai notion of jai yen amount to?",
        ["calm or patience"],
        {"8139258": 2},
    ),
    A("mm29", "How many sides does a spruce needle have?", ["four sides"], {"3125155": 2}),
    A("mm30", "Which conifer is the state tree of South Dakota?", ["White spruce"], {"8128796": 2}),
    A("mm31", "In what year was the skin-care maker Theraderm founded?", ["1996"], {"8651770": 2}),
    A(
        "mm32",
        "Which ingredient obtained from sheep's wool is the main one in Theraderm cream?",
        ["lanolin"],
        {"8651771": 2},
    ),
    A(
        "mm33",
        "What share of the ocean area do continental margins make up?",
        ["28%"],
        {"8714082": 2},
    ),
    A(
        "mm34",
        "Below what temperature does hydrogen become a liquid?",
        ["-252oC", "-253 degrees C", "-252.77"],
        {"998748": 2, "8588219": 2, "3905057": 2},
    ),
    A("mm35", "Which months are the hottest in Jamaica?", ["July and August"], {"6112590": 2}),
    A("mm36", "When was the Three Percenters movement formed?", ["late 2008"], {"8049583": 2}),
    A(
        "mm37",
        "How many years of BSA experience does a BSA/AML Analyst II position require?",
        ["Three (3) to five (5) years"],
        {"4314174": 2},
    ),
    A(
        "mm39",
        "Roughly how many passengers pass through Charles de Gaulle airport each year?",
        ["60 million passengers"],
        {"3033900": 2},
    ),
    A("mm40", "What is the record age reached by a goldfish?", ["49 years"], {"8182165": 2}),
    A(
        "mm38",
        "By how much can one high dose of Famvir shorten a cold-sore outbreak?",
        ["two days"],
        {"6704400": 2},
    ),
]

UNANSWERABLE = [
    U(
        "mm-n01",
        "What is the muscle relaxant carisoprodol (Soma) prescribed for?",
        "near_miss",
        ["carisoprodol", "muscle relaxant"],
    ),
    U(
        "mm-n02",
        "What does the term incumbent worker mean in workforce training programmes?",
        "near_miss",
        ["incumbent worker"],
    ),
    U("mm-n03", "What does a medical scribe do in a clinic?", "near_miss", ["medical scribe"]),
    U(
        "mm-n04",
        "What is reacted selenium, as used in supplements?",
        "near_miss",
        ["reacted selenium"],
    ),
    U(
        "mm-n05",
        "In which direction does the moon travel in its orbit around the earth?",
        "near_miss",
        ["counterclockwise", "counter-clockwise", "west to east"],
    ),
    U(
        "mm-n06",
        "What is the IATA code of Paris Beauvais airport?",
        "near_miss",
        ["Beauvais", "BVA"],
    ),
    U(
        "mm-n07",
        "Who was the first executive secretary of the Commonwealth of Independent States?",
        "near_miss",
        ["executive secretary", "secretary of the commonwealth", "CIS secretary"],
    ),
    U(
        "mm-n08",
        "How many member states does the Commonwealth of Independent States have today?",
        "near_miss",
        ["member states", "nine members"],
    ),
    U(
        "mm-n09",
        "What was the name of Robert Gray's first mate on the Columbia Rediviva?",
        "near_miss",
        ["first mate"],
    ),
    U(
        "mm-n10",
        "How much does a Double Cheeseburger cost at McDonald's in the UK?",
        "near_miss",
        ["McDouble costs £", "price in the UK"],
    ),
    U(
        "mm-n11",
        "How many hours of training does the BSN require in clinical rotations?",
        "near_miss",
        ["clinical hours", "hours of clinical"],
    ),
    U(
        "mm-n12",
        "Which vaccine protects against Legionella pneumophila?",
        "near_miss",
        ["legionella vaccine", "vaccine against legionella"],
    ),
    U(
        "mm-n13",
        "How many tourists visit Jamaica each year?",
        "near_miss",
        ["million visitors", "million tourists", "tourist arrivals"],
    ),
    U(
        "mm-o01",
        "Which band recorded the album Abbey Road?",
        "off_topic",
        ["Abbey Road", "Beatles"],
    ),
    U("mm-o02", "What is the height of Mount Everest?", "off_topic", ["Everest"]),
    U("mm-o03", "Who won the men's singles at Wimbledon in 2019?", "off_topic", ["Wimbledon"]),
    U("mm-o04", "What is the population of Tokyo?", "off_topic", ["Tokyo"]),
    U("mm-o05", "How many lines does a Shakespearean sonnet have?", "off_topic", ["sonnet"]),
    U("mm-o06", "Why was Pluto reclassified as a dwarf planet?", "off_topic", ["Pluto"]),
    U("mm-o07", "Where do emperor penguins breed?", "off_topic", ["penguin"]),
    U(
        "mm-o08",
        "What is the exchange rate between the euro and the Japanese yen?",
        "off_topic",
        ["Japanese yen", "exchange rate between"],
    ),
]


def _judged() -> set[str]:
    judged = set()
    for line in (MSMARCO / "qrels" / "test.tsv").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[2].strip().isdigit() and int(parts[2]) > 0:
            judged.add(parts[1])
    return judged


if __name__ == "__main__":
    if not (MSMARCO / "corpus.jsonl").exists():
        raise SystemExit(f"missing {MSMARCO}: the shared MS MARCO subset is needed")
    judged = _judged()
    unjudged = sorted(d for q in ANSWERABLE for d in q.relevant if d not in judged)
    if unjudged:
        raise SystemExit(f"passages not judged relevant in MS MARCO qrels: {unjudged}")
    folder = EVAL_DIR / "msmarco-answers"
    folder.mkdir(exist_ok=True)
    write_questions(
        folder, ANSWERABLE, UNANSWERABLE, corpus_path=MSMARCO / "corpus.jsonl", beir=False
    )
    print(f"{len(ANSWERABLE)} answerable, {len(UNANSWERABLE)} unanswerable")
