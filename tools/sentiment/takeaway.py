#!/usr/bin/env python3
"""Figures of the scorer on the hand-written takeaway regression set.

test/data/takeaway_regression.tsv holds one review per line: the batch it
was written in (1 to 4, 6 and 7; batch 5 is test/data/takeaway_heldout.tsv),
language (zh or en), expected sign (+ or -), expected complaint topics
(comma-separated, empty for none) and the text.  Every sentence was
written for this project; none comes from a data set.  Batches 2 to 7
were each scored once, as held out, before anything was changed for them
(docs/sentiment.md).  This prints, per language and
pooled, the balanced accuracy of the sign of sentiment() and the
micro-averaged precision, recall and F1 of feedback_topics() against the
expected topics, then per-topic counts and, with --list, every sentence
whose sign or topics differ.  It exits 1 when any sentence differs.

usage: tools/sentiment/takeaway.py [--list] [--batch N] [--model src/sentiment_model.tsv]
                                   [--file test/data/takeaway_regression.tsv]
"""
import argparse
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sentdata  # noqa: E402

FILE = os.path.join(sentdata.REPO, "test", "data", "takeaway_regression.tsv")


def load(path, batch=None):
    rows = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if (len(parts) != 5 or not parts[0].isdigit() or parts[1] not in ("zh", "en")
                    or parts[2] not in ("+", "-")):
                sys.exit("%s:%d: expected batch, language, sign, topics, text" % (path, n))
            if batch is not None and int(parts[0]) != batch:
                continue
            topics = frozenset(t for t in parts[3].split(",") if t)
            rows.append((parts[1], parts[2] == "+", topics, parts[4]))
    return rows


def analyze(model_tsv, texts):
    out = []
    for line in sentdata.run_cli(["-m", model_tsv, "score"], texts):
        if line == "ERR":
            sys.exit("a sentence is not valid UTF-8")
        s, t = line.split("\t", 1)
        out.append((float(s), frozenset(x for x in t.split(",") if x)))
    return out


def figures(rows, got):
    labels = [1 if pos else 0 for _, pos, _, _ in rows]
    preds = [1 if s > 0 else 0 for s, _ in got]
    tp = sum(len(exp & t) for (_, _, exp, _), (_, t) in zip(rows, got))
    fp = sum(len(t - exp) for (_, _, exp, _), (_, t) in zip(rows, got))
    fn = sum(len(exp - t) for (_, _, exp, _), (_, t) in zip(rows, got))
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * p * r / (p + r) if p + r else float("nan")
    return sentdata.balanced_accuracy(labels, preds), p, r, f1


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=sentdata.MODEL)
    ap.add_argument("--file", default=FILE)
    ap.add_argument("--list", action="store_true", help="print every sentence that differs")
    ap.add_argument("--batch", type=int, help="only the sentences of this batch")
    args = ap.parse_args()
    rows = load(args.file, args.batch)
    got = analyze(args.model, [t for _, _, _, t in rows])
    print("%-8s %5s %5s %5s %9s %9s %7s %6s" % ("set", "rows", "neg", "pos", "sign b.a.",
                                              "topic P", "R", "F1"))
    for lang in ("zh", "en", None):
        sel = [i for i, r in enumerate(rows) if lang is None or r[0] == lang]
        rs = [rows[i] for i in sel]
        ba, p, r, f1 = figures(rs, [got[i] for i in sel])
        npos = sum(1 for x in rs if x[1])
        print("%-8s %5d %5d %5d %9.3f %9.3f %7.3f %6.3f" % (lang or "pooled", len(rs),
                                                          len(rs) - npos, npos, ba, p, r, f1))
    print()
    print("%-15s %9s %6s %6s" % ("topic", "expected", "found", "false"))
    for i in range(10):
        name = ["late", "cold", "spilled", "wrong_item", "missing_item", "rider_attitude",
                "taste", "portion", "price", "hygiene"][i]
        exp = sum(1 for r in rows if name in r[2])
        found = sum(1 for r, g in zip(rows, got) if name in r[2] and name in g[1])
        false = sum(1 for r, g in zip(rows, got) if name not in r[2] and name in g[1])
        print("%-15s %9d %6d %6d" % (name, exp, found, false))
    bad = [(r, g) for r, g in zip(rows, got)
           if (g[0] > 0) != r[1] or g[1] != r[2]]
    if args.list:
        for (lang, pos, exp, text), (s, t) in bad:
            print("%s %s %+.3f expected {%s} got {%s}: %s" % (
                lang, "+" if pos else "-", s, ",".join(sorted(exp)), ",".join(sorted(t)), text))
    print("%d of %d sentences with the expected sign and topics" % (len(rows) - len(bad), len(rows)))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
