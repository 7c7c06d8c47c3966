"""Build claims.jsonl, the labelled claim/passage pairs the verifier's thresholds are calibrated on.

Passages are quoted verbatim (whitespace joined) from four kinds of text found on the build
machine: MS MARCO web passages (/work/shared/data/beir/msmarco/corpus.jsonl), English Debian
documentation (/usr/share/doc: READMEs and changelogs), French prose (the debian-reference-fr
package: /usr/share/debian-reference/debian-reference.fr.txt.gz) and the sample handbook
(data/samples/handbook.md). The claims below were written by hand for each passage:

- supported: the passage's own statement, trimmed;
- paraphrased: the same facts in other words;
- contradicted: one thing changed (``kind``: number, date, name, negation, antonym, swap —
  two things of the passage exchanged — or word, a lower-case term replaced);
- unrelated: claims the passage does not support; ``kind`` "topical" for claims on the
  passage's topic written by hand (what a model makes up), "other passage" for the first
  supported claim of another passage of the same kind (added here).

Usage: .venv/bin/python tests/engine/verify/data/build_claims.py  (rewrites claims.jsonl)
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
MSMARCO = REPO.parent / "shared" / "data" / "beir" / "msmarco" / "corpus.jsonl"
DOC = Path("/usr/share/doc")
FRENCH = Path("/usr/share/debian-reference/debian-reference.fr.txt.gz")
HANDBOOK = REPO / "data" / "samples" / "handbook.md"

S, P, C, U = "supported", "paraphrased", "contradicted", "unrelated"

MSMARCO_ITEMS: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("4380635", [
        (S, "Daniel Gabriel Fahrenheit invented the mercury thermometer in 1714.", ""),
        (P, "The German physicist Fahrenheit came up with an alcohol thermometer in 1709.", ""),
        (C, "Fahrenheit introduced his temperature scale in 1742.", "number"),
        (C, "Daniel Gabriel Fahrenheit was a Swedish physicist who invented the mercury "
            "thermometer.", "name"),
    ]),
    ("5556744", [
        (S, "Holders of a valid 10 years U.S. passport do not need to appear in person to renew "
            "their passport.", ""),
        (P, "Passport services in Kaohsiung that require a personal appearance are only "
            "available by appointment.", ""),
        (C, "Holders of a valid 10 years U.S. passport need to appear in person to renew their "
            "passport.", "negation"),
        (C, "Holders of a valid 5-year U.S. passport do not need to appear in person to renew "
            "it.", "number"),
    ]),
    ("275728", [
        (S, "The FDA states that beef is safe when it is held at 140°F for over 12 minutes.", ""),
        (P, "The FDA says beef held at 130°F for more than 112 minutes is safe.", ""),
        (C, "The FDA states that beef is safe when held at 140°F for over 2 minutes.", "number"),
        (C, "Beef is least tender when cooked medium-rare.", "antonym"),
    ]),
    ("331934", [
        (S, "On average, fleas live two to three months.", ""),
        (P, "Without a blood meal and left undisturbed, a flea can survive for over 100 days.", ""),
        (C, "Female fleas can lay eggs before their first blood meal.", "negation"),
        (C, "Female fleas begin to lay eggs within 12 hours after their first blood meal.",
            "number"),
    ]),
    ("4080384", [
        (S, "The Zimmermann Telegram was issued from the German Foreign Office in January "
            "1917.", ""),
        (P, "The Zimmermann Note proposed that Germany and Mexico form a military alliance if "
            "the United States entered World War I.", ""),
        (C, "The Zimmermann Telegram was issued from the German Foreign Office in March 1917.",
            "date"),
        (C, "The Zimmermann Telegram proposed a military alliance between Germany and Japan.",
            "name"),
    ]),
    ("6232574", [
        (S, "Woodrow Wilson was the 28th President of the United States.", ""),
        (P, "Wilson, a Progressive Movement leader, served as President of the United States "
            "from 1913 to 1921.", ""),
        (C, "Woodrow Wilson was the 26th President of the United States.", "number"),
        (C, "Roosevelt was the 28th President of the United States.", "swap"),
    ]),
    ("8003301", [
        (S, "Temperatures in Jamaica average between 20 and 35 degrees Celsius throughout the "
            "year.", ""),
        (P, "In Jamaica the summer months are a little warmer than the winter months.", ""),
        (C, "In Jamaica the summer months are slightly colder than the winter months.",
            "antonym"),
        (C, "Temperatures in Jamaica average between 20 and 45 degrees Celsius throughout the "
            "year.", "number"),
    ]),
    ("3734236", [
        (S, "Medicare sets the price and you only have to pay 20% of Medicare's price.", ""),
        (P, "A DME that doesn't accept assignment may charge up to 15 percent above the "
            "Medicare allowable amount.", ""),
        (C, "You only have to pay 30% of Medicare's price.", "number"),
        (C, "Medicare does not set the price for cpap masks.", "negation"),
    ]),
    ("6187055", [
        (S, "Concrete floors can cost anywhere from $2 to $17 per square foot.", ""),
        (P, "A budget option that only changes the tone of a concrete floor usually costs "
            "under $6.", ""),
        (C, "Concrete floors can cost anywhere from $2 to $70 per square foot.", "number"),
        (C, "An economical option will typically cost more than $6.", "antonym"),
    ]),
    ("6688846", [
        (S, "Spruce and fir trees have their needles attached individually to the branches.", ""),
        (P, "Trees of the white pine group carry five needles in each cluster.", ""),
        (C, "Trees of the white pine group have clusters of four needles.", "number"),
        (C, "Trees of the red pine group have clusters of five needles.", "swap"),
    ]),
    ("8134789", [
        (S, "The currency in Thailand is called the Thai baht.", ""),
        (P, "Thailand's money, the baht, is usually written as a capital B with a slash "
            "through it.", ""),
        (C, "The currency in Thailand is called the Thai rupee.", "word"),
        (C, "The Thai baht is not represented by a B with a slash.", "negation"),
    ]),
    ("601510", [
        (S, "Ventilators are typically used by ALS patients having difficulty breathing.", ""),
        (P, "A tracheostomy is a surgery that places a tube into the throat.", ""),
        (C, "There are several kinds of invasive ventilators, such as small devices that fit "
            "over the nose and mouth.", "negation"),
        (C, "Ventilators are typically used by MS patients having difficulty breathing.", "name"),
    ]),
    ("4131485", [
        (S, "Anti-money laundering is a term mainly used in the financial and legal "
            "industries.", ""),
        (P, "AML describes legal controls requiring financial institutions to prevent, detect "
            "and report money laundering.", ""),
        (C, "AML controls forbid financial institutions from reporting money laundering "
            "activities.", "antonym"),
        (C, "Anti-money laundering is a term mainly used in the medical industry.", "word"),
    ]),
    ("661750", [
        (S, "There are over 30 different species of Legionella.", ""),
        (P, "Legionnaires' disease is usually caught by breathing in water contaminated with "
            "Legionella pneumophila bacteria.", ""),
        (C, "There are over 300 different species of Legionella.", "number"),
        (C, "Legionella pneumophila is the least common species that causes disease.",
            "antonym"),
    ]),
    ("6988332", [
        (S, "Robert J. Marshall takes health questions Monday through Friday from 4:30 to "
            "5 pm.", ""),
        (P, "On Saturdays listeners can call in with health questions from 11 am to 12 pm.", ""),
        (C, "Robert J. Marshall takes health questions on Sunday from 11 am to 12 pm.", "date"),
        (C, "Robert J. Marshall takes health questions Monday through Friday from 4:30 to "
            "7 pm.", "number"),
    ]),
    ("4564847", [
        (S, "The male should be under 4 pounds or 4 pounds maximum.", ""),
        (P, "For breeding, the female Yorkie should weigh more than the male.", ""),
        (C, "When paired, the female should weigh less than the male.", "antonym"),
        (C, "The male's parents should be between 6 and 7 pounds.", "number"),
    ]),
    ("1824485", [
        (S, "The coolest season of the year in Jamaica is winter.", ""),
        (P, "In Jamaican winter, the average daily temperature is about 82 degrees "
            "Fahrenheit.", ""),
        (C, "In Jamaica the average daily temperature in winter is approximately 92 degrees "
            "Fahrenheit.", "number"),
        (C, "The warmest season of the year in Jamaica is winter.", "antonym"),
    ]),
]  # fmt: skip

# (file under /usr/share/doc, first words, last words of the excerpt, claims)
DOC_ITEMS: list[tuple[str, str, str, list[tuple[str, str, str]]]] = [
    ("apt/README.md.gz", "apt is the main", "managers can depend upon.", [
        (S, "apt is the main command-line package manager for Debian and its derivatives.", ""),
        (P, "apt gives low-level access to all the features of the libapt-pkg and libapt-inst "
            "libraries.", ""),
        (C, "apt is the main command-line package manager for Fedora and its derivatives.",
            "name"),
        (C, "apt does not provide command-line tools for searching packages.", "negation"),
    ]),
    ("apt/README.md.gz", "APT is maintained in git", "being used as needed.", [
        (S, "APT is maintained in git.", ""),
        (P, "Besides its official repository, APT's git tree can also be found on GitHub.", ""),
        (C, "APT is maintained in Subversion.", "name"),
        (C, "The default branch of APT is master.", "word"),
    ]),
    ("bash/README.gz", "This is GNU Bash", "a slew of other features.", [
        (S, "This is GNU Bash, version 5.2.", ""),
        (P, "Bash, the Bourne Again SHell of the GNU Project, fully implements the POSIX shell "
            "specification.", ""),
        (C, "This is GNU Bash, version 4.2.", "number"),
        (C, "Bash is the BSD Project's Bourne Again SHell.", "name"),
    ]),
    ("bash/README.gz", "Bash is free software", "see the file COPYING.", [
        (S, "Bash is free software distributed under the GNU General Public License.", ""),
        (P, "Bash is licensed under version 3, or any later version, of the General Public "
            "License published by the Free Software Foundation.", ""),
        (C, "Bash is distributed under version 2 of the General Public License.", "number"),
        (C, "Bash is not free software.", "negation"),
    ]),
    ("bash/README.gz", "To compile Bash", "if it is available.", [
        (S, "Bash builds with gcc by default if it is available.", ""),
        (P, "Because Bash configures its build automatically, no further intervention should "
            "be needed.", ""),
        (C, "Bash builds with clang by default if it is available.", "word"),
        (C, "Bash does not auto-configure the build process.", "negation"),
    ]),
    ("coreutils/README.gz", "These are the GNU core utilities", "fewer arbitrary limits.", [
        (S, "This package is the union of the GNU fileutils, sh-utils, and textutils "
            "packages.", ""),
        (P, "Compared with their Unix counterparts, most of these programs are faster, have "
            "more options and fewer arbitrary limits.", ""),
        (C, "Most of these programs have more arbitrary limits than their Unix counterparts.",
            "antonym"),
        (C, "Most of these programs are slower than their Unix counterparts.", "antonym"),
    ]),
    ("coreutils/README.gz", "The ls, dir, and vdir commands", "whatever name they want.", [
        (S, "The ls, dir, and vdir commands are all separate executables.", ""),
        (P, "Renaming one of these program files should not change how it operates.", ""),
        (C, "The ls, dir, and vdir commands are not separate executables.", "negation"),
        (C, "The ls, dir, and vdir commands are one program that checks argv[0].", "swap"),
    ]),
    ("base-files/README.FHS", "New systems (Debian 2.2", "and /var/mail as a symlink to it.", [
        (S, "New systems (Debian 2.2 or later) will have /var/mail as a real directory.", ""),
        (P, "On upgraded systems the real directory is /var/spool/mail, and /var/mail is a "
            "symlink to it.", ""),
        (C, "New systems (Debian 3.2 or later) will have /var/mail as a real directory.",
            "number"),
        (C, "Upgraded systems will have /var/mail as the real directory and /var/spool/mail as "
            "a symlink to it.", "swap"),
    ]),
    ("cscope/README", "Cscope is a text screen", "detailed description of the license.", [
        (S, "Cscope is a text screen based source browsing tool.", ""),
        (P, "Cscope was made open source under the BSD license by The Santa Cruz Operation.",
            ""),
        (C, "Cscope was released by The Santa Cruz Operation under the GPL license.", "name"),
        (C, "Cscope cannot be used for C++ code.", "negation"),
    ]),
    ("cscope/README", "One thing to be pointed out", "or anonymous users.", [
        (S, "This is ancient Unix software predating much of today's security concerns.", ""),
        (P, "The software is meant for developers rather than administrators or anonymous "
            "users.", ""),
        (C, "This is hardened and secure software.", "negation"),
        (C, "It is designed to be used by administrators, not developers.", "swap"),
    ]),
    ("dpkg/README.api", "Among the perl modules", "minor number will be increased.", [
        (S, "You can safely rely on libdpkg-perl modules that have $VERSION set to 1.00 or "
            "higher.", ""),
        (P, "When the API breaks, the major number of $VERSION goes up.", ""),
        (C, "In case of API-breaking changes, the major number in $VERSION will be decreased.",
            "antonym"),
        (C, "For API extensions, the major number will be increased.", "swap"),
    ]),
    ("dpkg/README.api", "What: custom changelog parsers", "required documented methods.", [
        (S, "Since dpkg 1.18.8, custom changelog parsers are supported as modules derived from "
            "the Dpkg::Changelog module.", ""),
        (P, "Modules derived from Dpkg::Changelog must implement every required documented "
            "method.", ""),
        (C, "Since dpkg 1.17.8, custom changelog parsers are supported.", "number"),
        (C, "The custom changelog parsers API is volatile.", "antonym"),
    ]),
    ("bc/README", "The simple make compiles", "Pentium II, 450.)", [
        (S, "The simple make compiles a version of bc with fixed parameters for the recursive "
            "multiplication algorithm.", ""),
        (P, "The fixed parameter is the number of digits at which a sequential algorithm is "
            "used in place of the recursive one.", ""),
        (C, "Its value is known to be good on a Sparc Ultra 5.", "number"),
        (C, "The simple make compiles a version of bc with fixed parameters for the iterative "
            "multiplication algorithm.", "word"),
    ]),
    ("base-files/changelog.gz", "base-files (12.4+deb12u11)", "16:50:00 +0200", [
        (S, "The Debian 12.11 point release changed /etc/debian_version to 12.11.", ""),
        (P, "Santiago Vila made the base-files 12.4+deb12u11 upload on 9 May 2025.", ""),
        (C, "Santiago Vila made the base-files 12.4+deb12u11 upload on 9 March 2025.", "date"),
        (C, "This release changed /etc/debian_version to 12.10.", "number"),
    ]),
    ("tzdata/changelog.Debian.gz", "tzdata (2025b-0+deb12u1)", "21:52:28 +0100", [
        (S, "The new America/Coyhaique zone is for the Aysén Region in Chile.", ""),
        (P, "Version 2025b of tzdata adds an America/Coyhaique zone for Chile's Aysén "
            "Region.", ""),
        (C, "The new America/Coyhaique zone is for the Aysén Region in Argentina.", "name"),
        (C, "The Coyhaique zone will change its clocks on 2025-04-05.", "negation"),
    ]),
]  # fmt: skip

# (first words of a paragraph of debian-reference.fr.txt, claims)
FRENCH_ITEMS: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("Cette Debian Reference (version 2.100)", [
        (S, "Cette Debian Reference (version 2.100) est destinée à fournir un large aperçu de "
            "l’administration d’un système Debian.", ""),
        (P, "La version 2.100 de la Debian Reference, datée du 4 février 2023, est un guide "
            "utilisateur de post-installation.", ""),
        (C, "Cette Debian Reference est datée du 4 avril 2023.", "date"),
        (C, "Cette Debian Reference (version 2.101) est destinée à fournir un large aperçu de "
            "l’administration d’un système Debian.", "number"),
    ]),
    ("Les données du popcon sont présentées", [
        (S, "Les données du popcon contiennent un total de 208164 soumissions de rapports.", ""),
        (P, "Le popcon mesure de manière objective la popularité de chaque paquet, avec des "
            "rapports pour 25 architectures.", ""),
        (C, "Les données du popcon contiennent des rapports pour 192570 paquets binaires et 52 "
            "architectures.", "number"),
        (C, "Les données du popcon sont téléchargées depuis le 2 mars 2023.", "date"),
    ]),
    ("Vous remarquerez que l’archive amd64 unstable", [
        (S, "L’archive amd64 unstable ne contient actuellement que 68980 paquets.", ""),
        (P, "Actuellement, l’archive unstable pour amd64 compte seulement 68980 paquets.", ""),
        (C, "L’archive amd64 unstable contient actuellement 86980 paquets.", "number"),
        (C, "Les données de popularité ne contiennent aucun rapport venant d’installations "
            "anciennes.", "negation"),
    ]),
    ("Les données correspondant à la taille du paquet", [
        (S, "La taille est indiquée en Kio.", ""),
        (P, "Un kibioctet est une unité valant 1024 octets.", ""),
        (C, "Un kibioctet est une unité pour 1000 octets.", "number"),
        (C, "La taille est indiquée pour l’architecture i386.", "name"),
    ]),
    ("Conformément à la tradition UNIX", [
        (S, "Sur un système Debian, l’identifiant de l’utilisateur et le mot de passe sont "
            "sensibles à la casse.", ""),
        (P, "L’administrateur peut créer d’autres comptes d’utilisateurs avec la commande "
            "adduser(8).", ""),
        (C, "L’identifiant de l’utilisateur est habituellement choisi uniquement en "
            "majuscules.", "antonym"),
        (C, "Sur un système Debian, le mot de passe n’est pas sensible à la casse.", "negation"),
    ]),
    ("Il existe aussi un mode numérique", [
        (S, "Le mode numérique de chmod(1) utilise des nombres en base 8.", ""),
        (P, "Avec chmod(1), les permissions des fichiers peuvent aussi s’écrire en mode "
            "numérique, avec 3 ou 4 chiffres.", ""),
        (C, "Ce mode numérique utilise des nombres en base 16.", "number"),
        (C, "Ce mode numérique utilise des nombres codés sur 5 ou 6 chiffres.", "number"),
    ]),
    ("Le système Debian utilise par défaut un schéma", [
        (S, "Le système Debian utilise par défaut un schéma de groupe privé par utilisateur.",
            ""),
        (P, "Grâce aux UPG, chaque utilisateur a son propre groupe privé, ce qui rend sûr un "
            "umask à 0002.", ""),
        (C, "Un UPG a un nom différent de celui de l’utilisateur pour lequel il a été créé.",
            "antonym"),
        (C, "Un principe d’UPG rend sûr le positionnement de umask à 0077.", "number"),
    ]),
    ("Le répertoire « . » est lié", [
        (S, "Le nombre de liens de n’importe quel nouveau répertoire commence à 2.", ""),
        (P, "Ajouter de nouveaux sous-répertoires fait augmenter le nombre de liens du "
            "répertoire.", ""),
        (C, "Le nombre de liens du répertoire diminue lors de l’ajout de nouveaux "
            "sous-répertoires.", "antonym"),
        (C, "Le nombre de liens de tout nouveau répertoire commence à 3.", "number"),
    ]),
    ("Le visualisateur (« pager »)", [
        (S, "Le visualisateur par défaut d’un système Debian non personnalisé est more(1).", ""),
        (P, "Une fois le paquet less installé, less(1) devient le visualisateur par défaut et "
            "permet de faire défiler le texte vers l’arrière.", ""),
        (C, "La commande more(1) permet le défilement vers l’arrière.", "negation"),
        (C, "Le visualisateur par défaut d’un système Debian non personnalisé est less(1).",
            "swap"),
    ]),
    ("Le système Debian est un système multi-tâches", [
        (S, "Le système Debian est un système multi-tâches.", ""),
        (P, "Grâce aux travaux en arrière-plan, un utilisateur peut faire tourner plusieurs "
            "programmes depuis un seul interpréteur.", ""),
        (C, "Le système Debian n’est pas un système multi-tâches.", "negation"),
        (C, "La gestion des processus en arrière-plan fait appel aux commandes jobs, fg, bg et "
            "top.", "word"),
    ]),
    ("Le système de gestion des paquets Debian, lorsqu", [
        (S, "Il y a actuellement 68980 paquets disponibles pour l’architecture amd64.", ""),
        (P, "Bien utilisé, le système de gestion des paquets Debian permet d’installer des "
            "ensembles cohérents de paquets binaires depuis l’archive.", ""),
        (C, "Il y a actuellement soixante-huit mille paquets disponibles pour l’architecture "
            "amd64.", "number"),
        (C, "Il y a actuellement 68980 paquets disponibles pour l’architecture arm64.", "name"),
    ]),
    ("Avant qu’un ensemble de paquets ne soit déplacé", [
        (S, "Ce processus rend l’archive testing très actuelle et utilisable.", ""),
        (P, "Avant de passer de unstable vers testing, un ensemble de paquets doit avoir une "
            "maturité d’environ 10 jours.", ""),
        (C, "Le script de maintenance vérifie une maturité d’environ 20 jours.", "number"),
        (C, "Les paquets sont déplacés de l’archive testing vers l’archive unstable.", "swap"),
    ]),
    ("Veuillez remarquer que le nombre de paquets de non-free", [
        (S, "Le nombre de paquets de non-free et contrib est inférieur à 2 % de ceux dans "
            "main.", ""),
        (P, "Les sections non-free et contrib comptent moins de 2 % des paquets de main.", ""),
        (C, "Le nombre de paquets de non-free et contrib est supérieur à 2 % de ceux dans "
            "main.", "antonym"),
        (C, "Le nombre de paquets de non-free et contrib est inférieur à 5 % de ceux dans "
            "main.", "number"),
    ]),
    ("Bien que la commande aptitude soit disponible", [
        (S, "En cas de doute, veuillez utiliser les commandes apt, apt-get et apt-cache plutôt "
            "que la commande aptitude.", ""),
        (P, "La complexité d’aptitude a provoqué des régressions, par exemple le bogue "
            "#514930.", ""),
        (C, "Cette complexité a causé des régressions comme le bogue #411124.", "number"),
        (C, "En cas de doute, veuillez utiliser la commande aptitude plutôt que apt-get.",
            "swap"),
    ]),
    ("Avec une configuration plus approfondie et prudente", [
        (S, "Sudo(8) peut permettre à d’autres utilisateurs d’obtenir des privilèges limités "
            "d’administration sur un système partagé.", ""),
        (P, "Sur les machines ayant plusieurs administrateurs, sudo(8) permet de savoir qui a "
            "fait quoi.", ""),
        (C, "Avec sudo(8), les autres utilisateurs doivent partager le mot de passe de "
            "l’administrateur.", "negation"),
        (C, "Vous devriez confier de tels privilèges à tout le monde.", "negation"),
    ]),
    ("Vous remarquerez que, dans le contexte logique", [
        (S, "Dans le contexte logique de l’interpréteur de commandes, un succès est traité "
            "comme la valeur logique VRAIE.", ""),
        (P, "Pour l’interpréteur de commandes, un succès vaut la valeur logique vraie, "
            "c’est-à-dire zéro.", ""),
        (C, "Un succès est traité comme la valeur logique VRAIE qui possède la valeur 1.",
            "number"),
        (C, "Un succès est traité comme la valeur logique FAUSSE.", "antonym"),
    ]),
]  # fmt: skip

HANDBOOK_ITEMS: dict[str, list[tuple[str, str, str]]] = {
    "Working hours": [
        (S, "The office is open from 8 am to 6 pm, Monday to Friday.", ""),
        (S, "Core hours are 10 am to 3 pm.", ""),
        (P, "The office opens at 8:00 and closes at 18:00 on weekdays.", ""),
        (P, "Between 10 am and 3 pm everyone is expected to be reachable.", ""),
        (C, "The office is open from 8 am to 8 pm, Monday to Friday.", "number"),
        (C, "The office is open from 8 am to 6 pm, Monday to Saturday.", "date"),
        (C, "Core hours are 11 am to 3 pm.", "number"),
    ],
    "Remote work": [
        (S, "Employees may work from home up to three days per week.", ""),
        (S, "Remote days are agreed with your manager at least one day in advance.", ""),
        (P, "Staff can work remotely for a maximum of 3 days each week.", ""),
        (P, "Your manager must approve remote days at least a day in advance.", ""),
        (C, "Employees may not work from home.", "negation"),
        (C, "Employees may work from home up to four days per week.", "number"),
        (C, "Remote days are agreed with your manager at most one day in advance.", "antonym"),
    ],
    "Holidays": [
        (S, "Every full-time employee gets 28 days of paid holiday per year.", ""),
        (S, "Up to five unused days carry over to the next year.", ""),
        (P, "Full-time staff receive twenty-eight days of paid leave a year in addition to "
            "public holidays.", ""),
        (P, "A maximum of 5 unused holiday days can be carried into the following year.", ""),
        (C, "Every full-time employee gets 25 days of paid holiday per year.", "number"),
        (C, "Every full-time employee gets 28 days of unpaid holiday per year.", "antonym"),
        (C, "Unused days do not carry over to the next year.", "negation"),
        (C, "Every part-time employee gets 28 days of paid holiday per year.", "antonym"),
    ],
    "Expenses": [
        (S, "Submit expense claims through the finance portal within 30 days of the "
            "purchase.", ""),
        (S, "Approved claims are paid with the next monthly salary.", ""),
        (P, "Expense claims go through the finance portal, with receipts, within thirty days "
            "of buying.", ""),
        (P, "Once approved, expense claims are reimbursed with the following monthly salary.",
            ""),
        (C, "Submit expense claims through the finance portal within 60 days of the purchase.",
            "number"),
        (C, "Approved claims are paid with the next weekly salary.", "antonym"),
        (C, "Expense claims can be submitted without receipts.", "negation"),
    ],
}  # fmt: skip

# On-topic claims each passage does not support (what a model makes up), keyed like the
# passages above (MS MARCO id, first words of the excerpt or paragraph, handbook section).
TOPICAL: dict[str, tuple[str, ...]] = {
    "4380635": ("Fahrenheit's thermometers were widely used by sailors.",),
    "5556744": ("Renewing a passport by mail requires a new photograph.",),
    "275728": ("Sous vide cooking uses a water bath to cook food evenly.",),
    "331934": ("Fleas transmit diseases such as the plague to humans.",),
    "4080384": ("The Zimmermann Telegram was intercepted and decoded by British intelligence.",),
    "6232574": ("Woodrow Wilson was a strong supporter of women's suffrage from the start.",),
    "8003301": ("Hurricanes often hit Jamaica during the rainy season.",),
    "3734236": ("Medicare requires a doctor's prescription before paying for cpap masks.",),
    "6187055": ("Polished concrete floors are easy to clean and very durable.",),
    "6688846": ("Pine needles stay green throughout the winter.",),
    "8134789": ("Most shops in Thailand also accept credit cards.",),
    "601510": ("ALS patients often need a feeding tube as the disease progresses.",),
    "4131485": ("Banks that break anti-money laundering rules can be fined heavily.",),
    "661750": ("Legionnaires' disease can be treated with antibiotics.",),
    "6988332": ("The radio show is broadcast on public radio stations nationwide.",),
    "4564847": ("Yorkie puppies should stay with their mother until they are weaned.",),
    "1824485": ("Jamaica's rainy season brings frequent heavy storms to the island.",),
    "apt is the main": ("apt automatically removes unused packages after every upgrade.",),
    "APT is maintained in git": (
        "APT accepts contributions through merge requests on its repository.",
    ),
    "This is GNU Bash": ("Bash is the default login shell on most Linux distributions.",),
    "Bash is free software": ("Bash can be used in commercial products without paying fees.",),
    "To compile Bash": ("Building Bash requires the readline library to be installed first.",),
    "These are the GNU core utilities": (
        "The GNU core utilities are written in the C programming language.",
    ),
    "The ls, dir, and vdir commands": (
        "The ls command colours its output by file type by default.",
    ),
    "New systems (Debian 2.2": ("Mail spool files are deleted when a user account is removed.",),
    "Cscope is a text screen": ("Cscope builds a symbol database the first time it runs.",),
    "One thing to be pointed out": ("Security fixes for this software are released every month.",),
    "Among the perl modules": (
        "Deprecated functions in libdpkg-perl are removed after one release.",
    ),
    "What: custom changelog parsers": (
        "Custom changelog parsers are loaded automatically from the system path.",
    ),
    "The simple make compiles": (
        "The recursive multiplication algorithm is faster for small numbers.",
    ),
    "base-files (12.4+deb12u11)": ("The point release also updated the default kernel.",),
    "tzdata (2025b-0+deb12u1)": ("The update also removes several obsolete time zones.",),
    "Cette Debian Reference (version 2.100)": (
        "Ce guide est surtout destiné aux développeurs de paquets Debian.",
    ),
    "Les données du popcon sont présentées": (
        "Les rapports du popcon sont envoyés chaque semaine par les machines participantes.",
    ),
    "Vous remarquerez que l’archive amd64 unstable": (
        "Les paquets de l’archive unstable sont mis à jour plusieurs fois par jour.",
    ),
    "Les données correspondant à la taille du paquet": (
        "La taille installée inclut aussi les fichiers de configuration créés après "
        "l’installation.",
    ),
    "Conformément à la tradition UNIX": (
        "Les comptes d’utilisateurs inutilisés sont supprimés automatiquement.",
    ),
    "Il existe aussi un mode numérique": (
        "Le mode symbolique de chmod(1) est plus facile à lire pour les débutants.",
    ),
    "Le système Debian utilise par défaut un schéma": (
        "Les groupes privés sont supprimés automatiquement quand l’utilisateur est retiré.",
    ),
    "Le répertoire « . » est lié": (
        "Les liens symboliques ne comptent pas dans le nombre de liens d’un répertoire.",
    ),
    "Le visualisateur (« pager »)": (
        "Le visualisateur less(1) permet aussi de rechercher du texte dans le fichier.",
    ),
    "Le système Debian est un système multi-tâches": (
        "Les processus en arrière-plan continuent après la fermeture du terminal.",
    ),
    "Le système de gestion des paquets Debian, lorsqu": (
        "Les paquets binaires sont signés par les développeurs Debian.",
    ),
    "Avant qu’un ensemble de paquets ne soit déplacé": (
        "Les paquets de testing deviennent la prochaine version stable.",
    ),
    "Veuillez remarquer que le nombre de paquets de non-free": (
        "Les paquets non-free sont maintenus par des entreprises commerciales.",
    ),
    "Bien que la commande aptitude soit disponible": (
        "La commande aptitude est installée par défaut sur tous les systèmes Debian.",
    ),
    "Avec une configuration plus approfondie et prudente": (
        "Sudo(8) enregistre chaque commande exécutée dans un fichier journal.",
    ),
    "Vous remarquerez que, dans le contexte logique": (
        "Un code de retour différent de zéro indique une erreur.",
    ),
    "Working hours": (
        "The office is closed on public holidays.",
        "Employees must clock in when they arrive at the office.",
    ),
    "Remote work": (
        "Remote workers must use a company laptop at home.",
        "Remote days cannot be carried over to the next week.",
    ),
    "Holidays": (
        "Holiday requests must be approved by your manager.",
        "Unused holiday days are paid out when an employee leaves.",
    ),
    "Expenses": (
        "Expense claims above a certain amount need a director's approval.",
        "Travel expenses are reimbursed at a fixed daily rate.",
    ),
}


def _flat(text: str) -> str:
    return " ".join(text.split())


def _read(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return str(handle.read())


def _excerpt(text: str, first: str, last: str) -> str:
    """From ``first`` to ``last`` inclusive, whitespace joined."""
    text = _flat(text)
    start = text.index(first)
    end = text.index(last, start) + len(last)
    return text[start:end]


Item = tuple[str, str, str, list[tuple[str, str, str]]]  # key, origin, passage, claims


def _msmarco() -> list[Item]:
    wanted = {doc_id for doc_id, _ in MSMARCO_ITEMS}
    texts = {}
    with MSMARCO.open(encoding="utf-8") as handle:
        for line in handle:
            doc = json.loads(line)
            if doc["_id"] in wanted:
                texts[doc["_id"]] = _flat(doc["text"])
    return [(i, f"msmarco:{i}", texts[i], claims) for i, claims in MSMARCO_ITEMS]


def _docs() -> list[Item]:
    items: list[Item] = []
    for name, first, last, claims in DOC_ITEMS:
        text = _excerpt(_read(DOC / name), first, last)
        items.append((first, f"doc:{name}:{first[:24]}", text, claims))
    return items


def _french() -> list[Item]:
    paragraphs = [_flat(p) for p in re.split(r"\n\s*\n", _read(FRENCH))]
    items: list[Item] = []
    for first, claims in FRENCH_ITEMS:
        text = next(p for p in paragraphs if p.startswith(first))
        items.append((first, f"debian-reference-fr:{first[:24]}", text, claims))
    return items


def _handbook() -> list[Item]:
    text = _read(HANDBOOK)
    sections = {
        block.split("\n", 1)[0].strip(): "# " + block.strip()
        for block in re.split(r"^# ", text, flags=re.M)[1:]
    }
    return [
        (title, f"handbook:{title}", sections[title], claims)
        for title, claims in HANDBOOK_ITEMS.items()
    ]


def _rows(
    source: str,
    lang: str,
    items: list[tuple[str, str, str, list[tuple[str, str, str]]]],
    shifts: tuple[int, ...],
) -> list[dict[str, str]]:
    rows = []
    for index, (key, origin, passage, claims) in enumerate(items):
        for label, claim, kind in claims:
            rows.append(_row(source, origin, lang, passage, claim, label, kind))
        for claim in TOPICAL[key]:
            rows.append(_row(source, origin, lang, passage, claim, U, "topical"))
        for shift in shifts:  # another passage's own statement: unrelated here
            other = items[(index + shift) % len(items)][3]
            claim = next(c for label, c, _ in other if label == S)
            rows.append(_row(source, origin, lang, passage, claim, U, "other passage"))
    return rows


def _row(
    source: str, origin: str, lang: str, passage: str, claim: str, label: str, kind: str
) -> dict[str, str]:
    return {
        "source": source,
        "origin": origin,
        "lang": lang,
        "passage": passage,
        "claim": claim,
        "label": label,
        "kind": kind,
    }


def main() -> None:
    """Write claims.jsonl next to this script."""
    rows = (
        _rows("msmarco", "en", _msmarco(), (3,))
        + _rows("debian-doc", "en", _docs(), (3,))
        + _rows("french-doc", "fr", _french(), (3,))
        + _rows("handbook", "en", _handbook(), (1, 2))
    )
    with (HERE / "claims.jsonl").open("w", encoding="utf-8") as out:
        for number, row in enumerate(rows, start=1):
            out.write(json.dumps({"id": number, **row}, ensure_ascii=False) + "\n")
    print(f"{len(rows)} pairs written to {HERE / 'claims.jsonl'}")


if __name__ == "__main__":
    main()
