# ruff: noqa: E501  (a table of questions: one question per line reads best)
"""Build data/eval/crosslingual: English questions on French passages and French on English.

The corpus is the union of usrshare-en (English) and debian-reference-fr (French), so a question
competes with passages in its own language. The judgments are those of the source sets: each
question here translates one judged there, and keeps its expected strings and passages.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import debian_reference_fr
import debian_reference_fr_questions as fr
import usrshare_en
import usrshare_en_questions as en
from _common import EVAL_DIR, write_corpus
from _questions import Answerable, Unanswerable, audit, write_questions

# English questions whose answers are in French passages (source id -> English wording).
EN_OVER_FR = {
    "fr01": "Which command gives a root shell without keeping the current user's environment?",
    "fr03": "Which directory permission bit stops users from deleting other people's files?",
    "fr06": "What command switches the system's default text editor?",
    "fr08": "Which file descriptors does the shell predefine?",
    "fr09": "What are the two flavours of regular expressions used by text tools?",
    "fr11": "Which tool shows known bugs before upgrading testing or unstable?",
    "fr13": "How do I purge, with aptitude, the configuration files left by removed packages?",
    "fr15": "Which file do APT tools use to record automatically installed packages?",
    "fr16": "Where does the alternatives system keep its symlinks?",
    "fr17": "Which package makes package upgrades install themselves automatically?",
    "fr19": "Which process id does init get at boot?",
    "fr20": "Which program generates the kernel module dependency file?",
    "fr22": "What does a $1$ prefix on an encrypted password indicate?",
    "fr24": "Which file sets the order in which host names are resolved?",
    "fr25": "Which loopback address does the Debian installer map to the host name when there is no fixed IP?",
    "fr27": "Which group must a desktop user join to manage the network?",
    "fr28": "Which tool automates path MTU discovery?",
    "fr29": "How do I make an ext file system get checked every fifty boots?",
    "fr31": "How can I list deleted files that are still open and using disk space?",
    "fr33": "What file extension does a tar archive compressed with xz use?",
    "fr35": "Where does Git store the name and e-mail address used for all repositories?",
    "fr37": "Which cdrkit tool builds an ISO9660 image?",
    "fr39": "How long does a package have to age in unstable before moving to testing?",
}
# French questions whose answers are in English passages.
FR_OVER_EN = {
    "en02": "Avec l’option -1, quelle taille font les blocs compressés par bzip2 ?",
    "en04": "Combien de mémoire suffit pour décompresser n’importe quel fichier .bz2 en mode économe ?",
    "en07": "Quelle est la longueur du motif binaire qui sépare les blocs dans un fichier bzip2 ?",
    "en08": "Dans quelle unité GNU time indique-t-il la mémoire résidente maximale ?",
    "en11": "De quel appel système GNU time tire-t-il la plupart de ses mesures ?",
    "en13": "Quel fichier ninja lit-il par défaut quand on le lance sans argument ?",
    "en15": "Sur quel port le navigateur de graphe de dépendances de ninja écoute-t-il par défaut ?",
    "en16": "Comment un fichier de construction peut-il exiger une version minimale de ninja ?",
    "en20": "Quel identifiant numérique avait l’ancien compte operator sous Debian ?",
    "en21": "Quel est l’interpréteur de connexion du compte sync ?",
    "en23": "De combien Memcheck ralentit-il à peu près un programme ?",
    "en26": "Quelle option empêche valgrind d’appeler le crochet freeres de la glibc à la sortie ?",
    "en27": "Comment s’appelait Valgrind avant sa première publication ?",
    "en29": "Quel allocateur mémoire Redis utilise-t-il par défaut sous Linux ?",
    "en30": "Quelle commande nettoie les dépendances embarquées de Redis pour tout reconstruire ?",
    "en32": "Dans quel langage est écrite la suite de tests de Redis ?",
    "en35": "Quelle taille maximale peut atteindre un fichier journal au format compact ?",
    "en37": "Combien de temps systemd-dissect attend-il par défaut la mise en place d’une image Verity ?",
    "en38": "Dans quelle version de pip le nouveau résolveur de dépendances est-il devenu le défaut ?",
    "en40": "Comment vérifier que les paquets Python déjà installés n’ont pas de dépendances incompatibles ?",
    "en43": "Dans quel fichier dpkg garde-t-il la liste des intérêts pour les déclencheurs de fichiers ?",
    "en44": "Quel algorithme dpkg utilise-t-il pour repérer des paquets qui se déclenchent mutuellement ?",
}
UNANSWERABLE = [
    Unanswerable(
        "x-n01", "How do I update the machine's UEFI firmware with fwupd?", "near_miss", ["fwupd"]
    ),
    Unanswerable(
        "x-n02",
        "Which TCP port does sshd listen on by default?",
        "near_miss",
        ["port 22", "22/tcp"],
    ),
    Unanswerable("x-n03", "What is the code name of Debian 13?", "near_miss", ["trixie"]),
    Unanswerable(
        "x-n04", "Which rsync option limits the bandwidth it uses?", "near_miss", ["bwlimit"]
    ),
    Unanswerable(
        "x-n05", "Which Git command recovers a commit lost after a reset?", "near_miss", ["reflog"]
    ),
    Unanswerable(
        "x-n06",
        "Combien de threads bzip2 utilise-t-il pour compresser sur plusieurs cœurs ?",
        "near_miss",
        ["pbzip2", "multiple threads"],
    ),
    Unanswerable(
        "x-n07",
        "Quelle option de ninja bloque le lancement de tâches quand la charge du système est trop forte ?",
        "near_miss",
        ["load average", "loadavg"],
    ),
    Unanswerable(
        "x-n08", "Sur quel port TCP Redis Sentinel écoute-t-il par défaut ?", "near_miss", ["26379"]
    ),
    Unanswerable(
        "x-n09",
        "Quelle constante zlib donne le meilleur taux de compression ?",
        "near_miss",
        ["Z_BEST_COMPRESSION"],
    ),
    Unanswerable(
        "x-n10",
        "De combien Helgrind ralentit-il un programme multithread ?",
        "near_miss",
        ["helgrind"],
    ),
    Unanswerable(
        "x-n11",
        "Quelle commande pip exporte les paquets installés dans un fichier de verrouillage avec empreintes ?",
        "near_miss",
        ["pip lock", "pip freeze --hash"],
    ),
    Unanswerable(
        "x-n12",
        "Combien de secondes GRUB attend-il avant de démarrer l’entrée par défaut ?",
        "near_miss",
        ["GRUB_TIMEOUT"],
    ),
    Unanswerable("x-o01", "What is the capital of Canada?", "off_topic", ["Ottawa"]),
    Unanswerable("x-o02", "Who wrote Les Misérables?", "off_topic", ["Hugo", "Misérables"]),
    Unanswerable("x-o03", "How tall is the Eiffel Tower?", "off_topic", ["Eiffel"]),
    Unanswerable(
        "x-o04", "How many players are there in a rugby union team?", "off_topic", ["rugby"]
    ),
    Unanswerable("x-o05", "Quelle est la capitale de l’Australie ?", "off_topic", ["Canberra"]),
    Unanswerable(
        "x-o06", "Combien de calories contient une banane ?", "off_topic", ["banane", "banana"]
    ),
    Unanswerable("x-o07", "Qui a peint la Joconde ?", "off_topic", ["Joconde", "Mona Lisa"]),
    Unanswerable(
        "x-o08", "Quelle planète a le plus de lunes ?", "off_topic", ["Saturne", "Jupiter"]
    ),
]


def questions() -> list[Answerable]:
    """The translated questions, with the source set's expected strings and judgments."""
    source = {q.id: q for q in fr.ANSWERABLE + en.ANSWERABLE}
    out = []
    for prefix, table in (("x-en", EN_OVER_FR), ("x-fr", FR_OVER_EN)):
        for sid, text in table.items():
            q = source[sid]
            out.append(Answerable(f"{prefix}-{sid}", text, q.expected, q.relevant))
    return out


if __name__ == "__main__":
    folder = EVAL_DIR / "crosslingual"
    corpus = usrshare_en.build() + debian_reference_fr.build()
    write_corpus(folder, corpus)
    answerable = questions()
    write_questions(folder, answerable, UNANSWERABLE)
    print(f"{len(corpus)} passages, {len(answerable)} answerable, {len(UNANSWERABLE)} unanswerable")
    if "--audit" in sys.argv:
        audit(folder, answerable)
