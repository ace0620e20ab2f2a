/*-------------------------------------------------------------------------
 *
 * sentiment_core.c
 *		Review sentiment and complaint-topic scorer, free of PostgreSQL.
 *
 * One left-to-right pass over valid UTF-8 (checked first, in its own
 * linear pass).  The state kept while scanning is a handful of numbers:
 * the running clause score, the negation scope, a pending degree word,
 * emphasis counters and topic bits.  Maximum matching looks ahead at most
 * SENT_MAX_WORD_CP code points, so each byte is examined a bounded number
 * of times and scoring is linear in the input length.
 *
 * Memory: the model's hash table and key arena come from the caller's
 * allocator; scoring allocates nothing.
 *
 * IDENTIFICATION
 *		src/sentiment_core.c
 *
 *-------------------------------------------------------------------------
 */
#include "sentiment_core.h"

#include <math.h>
#include <string.h>

/* entry kinds (bit flags) */
#define K_NEG		0x01		/* negator: opens a negation scope */
#define K_DEG		0x02		/* degree word: scales the next content word */
#define K_CONTRAST	0x04		/* but, 但是: what came before weighs less */
#define K_CONCESS	0x08		/* although, 虽然: its own clause weighs less */
#define K_STOP		0x10		/* function word: does not use up a scope */
#define K_WORD		0x20		/* a real word (else only a prefix marker) */
#define K_NOFLIP	0x40		/* value not flipped by negation (emoji) */
#define K_HAND		0x80		/* a hand-set prior of the built-in rules */

/* phrase flags of built-in words (sent_entry.fl) */
#define F_COUNT		0x01		/* 少了, 漏了: a count after it names an item */
#define F_EXPECT	0x02		/* 以为, worried: the clause is a fear, not a fact */
#define F_DANGLE	0x04		/* 没有 closing a clause negates what came before */
#define F_CARRY		0x08		/* 备注: its anchor lasts until the text ends */
#define F_FRAME		0x10		/* 价格: its anchor names any negative clause */
#define F_ARRIVE	0x20		/* 没送来: a missing item after one, else late */

/* words of the hand rules, never cut by the overlap check */
#define RULE_KINDS	(K_NEG | K_DEG | K_CONTRAST | K_CONCESS | K_STOP)

#define NS_WORD		0
#define NS_BIGRAM	1

/* tunable constants of the hand rules (see docs/sentiment.md) */
#define NEG_SCOPE_CJK		3	/* content tokens a Chinese negator covers */
#define NEG_SCOPE_EN		4	/* content words an English negator covers */
#define NEG_GAMMA			0.8 /* negated lexicon prior: -gamma * prior */
#define NEG_LEARNED_FALLBACK 0.5	/* negated learned weight with no !f */
#define CONTRAST_DISCOUNT	0.6 /* before a contrast word */
#define CONCESS_DISCOUNT	0.5 /* clause opened by a concession word */
#define EMPH_ONE			1.15	/* one ! */
#define EMPH_MANY			1.35	/* !! or more, or a repeated character */
#define SCORE_SCALE			3.0 /* score = tanh(sum / scale) */
#define MISSING_PRIOR		-1.5	/* an item, then 没有 at the end of a clause */
#define ANCHOR_FREE_NEG		-0.5	/* topicless value that lets an anchor fire */
#define NEUTRAL_CLAUSE		0.3 /* |clause| under this hands its anchors on */

struct sent_entry
{
	const char *key;			/* NULL: empty slot */
	uint32_t	hash;
	uint8_t		key_len;
	uint8_t		ns;
	uint8_t		kind;
	uint8_t		fl;				/* F_* phrase flags */
	uint16_t	lens;			/* bit n: a word of n code points starts here */
	uint8_t		has_w;
	uint8_t		has_wn;
	uint16_t	tp;				/* topics when seen plain */
	uint16_t	tn;				/* topics when negated */
	uint16_t	ta;				/* topics when its clause is negative */
	float		lex;			/* lexicon prior */
	float		w;				/* learned weight, plain */
	float		wn;				/* learned weight, negated */
	float		deg;			/* degree multiplier, or negation damping */
};

/* key arena: keys are copied into blocks obtained from the allocator */
#define ARENA_BLOCK 16384
typedef struct arena_hdr
{
	struct arena_hdr *next;
	size_t		used;
} arena_hdr;

static const char *const topic_names[SENT_NTOPICS] = {
	"late", "cold", "spilled", "wrong_item", "missing_item",
	"rider_attitude", "taste", "portion", "price", "hygiene"
};

/*
 * Built-in rules.  Weights are lexicon priors on the scale of the learned
 * log-odds; deg is the degree multiplier of a K_DEG word or the damping of
 * a K_NEG word (1 = full negation).
 */
typedef struct builtin_word
{
	const char *key;
	uint8_t		kind;
	float		lex;
	float		deg;
	uint16_t	tp;
	uint16_t	tn;
	uint16_t	ta;
	uint8_t		fl;
} builtin_word;

#define LATE	SENT_TOPIC_LATE
#define COLD	SENT_TOPIC_COLD
#define SPILL	SENT_TOPIC_SPILLED
#define WRONG	SENT_TOPIC_WRONG_ITEM
#define MISS	SENT_TOPIC_MISSING_ITEM
#define RIDER	SENT_TOPIC_RIDER
#define TASTE	SENT_TOPIC_TASTE
#define PORT	SENT_TOPIC_PORTION
#define PRICE	SENT_TOPIC_PRICE
#define HYG		SENT_TOPIC_HYGIENE

/* sentiment-bearing word: W(key, prior, plain topics, negated topics, anchor) */
#define W(k, l, p, n, a)	{k, K_WORD | K_HAND, l, 1.0f, p, n, a, 0}
#define WF(k, l, p, n, a, f) {k, K_WORD | K_HAND, l, 1.0f, p, n, a, f}
/* a complaint that negation does not undo ("barely lukewarm" is cold) */
#define WN(k, l, p)			{k, K_WORD | K_HAND | K_NOFLIP, l, 1.0f, p, 0, 0, 0}
#define NEG(k, d)			{k, K_WORD | K_NEG, 0.0f, d, 0, 0, 0, 0}
#define NEGD(k)				{k, K_WORD | K_NEG, 0.0f, 1.0f, 0, 0, 0, F_DANGLE}
#define EXPECT(k)			{k, K_WORD | K_STOP, 0.0f, 1.0f, 0, 0, 0, F_EXPECT}
#define DEG(k, d)			{k, K_WORD | K_DEG, 0.0f, d, 0, 0, 0, 0}
#define CONTRAST(k)			{k, K_WORD | K_CONTRAST, 0.0f, 1.0f, 0, 0, 0, 0}
#define CONCESS(k)			{k, K_WORD | K_CONCESS, 0.0f, 1.0f, 0, 0, 0, 0}
#define STOP(k)				{k, K_WORD | K_STOP, 0.0f, 1.0f, 0, 0, 0, 0}
#define STOPA(k, a)			{k, K_WORD | K_STOP, 0.0f, 1.0f, 0, 0, a, 0}
#define EMO(k, l)			{k, K_WORD | K_NOFLIP, l, 1.0f, 0, 0, 0, 0}

static const builtin_word builtin_words[] = {
	/* Chinese negators; deg < 1 softens ("不太好" is mildly bad) */
	NEG("不", 1.0f), NEGD("没"), NEGD("没有"), NEG("别", 1.0f),
	NEG("无", 1.0f), NEG("并不", 1.0f), NEG("并没有", 1.0f), NEG("并非", 1.0f),
	NEG("不是", 1.0f), NEG("非", 1.0f), NEG("未", 1.0f), NEG("毫无", 1.0f),
	NEG("从不", 1.0f), NEG("从来不", 1.0f), NEG("从没", 1.0f), NEG("绝不", 1.0f),
	NEG("不会", 1.0f), NEG("不用", 1.0f), NEG("不要", 1.0f), NEG("甭", 1.0f),
	NEGD("木有"), NEGD("都没有"), NEGD("也没有"), NEG("没啥", 1.0f), NEG("没什么", 1.0f),
	NEG("不太", 0.5f), NEG("不怎么", 0.5f), NEG("不是很", 0.5f),
	NEG("不算", 0.6f), NEG("不够", 0.8f), NEG("不大", 0.5f),
	/* English negators */
	NEG("not", 1.0f), NEG("no", 1.0f), NEG("never", 1.0f), NEG("nothing", 1.0f),
	NEG("none", 1.0f), NEG("nobody", 1.0f), NEG("neither", 1.0f), NEG("nor", 1.0f),
	NEG("without", 1.0f), NEG("cannot", 1.0f), NEG("dont", 1.0f),
	NEG("didnt", 1.0f), NEG("doesnt", 1.0f), NEG("isnt", 1.0f),
	NEG("wasnt", 1.0f), NEG("arent", 1.0f), NEG("werent", 1.0f),
	NEG("wont", 1.0f), NEG("cant", 1.0f), NEG("couldnt", 1.0f),
	NEG("wouldnt", 1.0f), NEG("shouldnt", 1.0f), NEG("havent", 1.0f),
	NEG("hasnt", 1.0f), NEG("hadnt", 1.0f), NEG("aint", 1.0f),
	NEG("hardly", 0.7f), NEG("barely", 0.7f), NEG("lack", 0.8f),

	/* degree words */
	DEG("很", 1.3f), DEG("非常", 1.6f), DEG("太", 1.5f), DEG("超", 1.5f),
	DEG("超级", 1.6f), DEG("特别", 1.5f), DEG("十分", 1.5f), DEG("极", 1.8f),
	DEG("极其", 1.8f), DEG("最", 1.6f), DEG("真", 1.3f), DEG("真的", 1.3f),
	DEG("挺", 1.2f), DEG("蛮", 1.2f), DEG("比较", 0.9f), DEG("有点", 0.6f),
	DEG("有点儿", 0.6f), DEG("有些", 0.6f), DEG("稍微", 0.5f), DEG("稍", 0.6f),
	DEG("略", 0.6f), DEG("略微", 0.5f), DEG("更", 1.3f), DEG("越来越", 1.4f),
	DEG("实在", 1.4f), DEG("相当", 1.4f), DEG("巨", 1.6f), DEG("贼", 1.5f),
	DEG("好不", 1.3f), DEG("如此", 1.4f), DEG("格外", 1.4f), DEG("尤其", 1.3f),
	DEG("简直", 1.5f), DEG("完全", 1.4f), DEG("一点", 0.6f), DEG("有一点", 0.6f),
	DEG("very", 1.4f), DEG("so", 1.4f), DEG("really", 1.3f),
	DEG("extremely", 1.7f), DEG("super", 1.5f), DEG("too", 1.3f),
	DEG("quite", 1.2f), DEG("pretty", 1.2f), DEG("totally", 1.5f),
	DEG("absolutely", 1.6f), DEG("incredibly", 1.6f), DEG("highly", 1.5f),
	DEG("most", 1.4f), DEG("somewhat", 0.6f), DEG("slightly", 0.5f),
	DEG("bit", 0.6f), DEG("kinda", 0.6f), DEG("fairly", 0.8f),
	DEG("rather", 0.8f), DEG("truly", 1.4f), DEG("completely", 1.5f),
	DEG("utterly", 1.7f), DEG("such", 1.3f), DEG("way", 1.2f),

	/* contrast and concession */
	CONTRAST("但是"), CONTRAST("但"), CONTRAST("不过"), CONTRAST("可是"),
	CONTRAST("然而"), CONTRAST("却"), CONTRAST("只是"), CONTRAST("就是"),
	CONTRAST("可惜"), CONTRAST("but"), CONTRAST("however"), CONTRAST("yet"),
	CONTRAST("unfortunately"), CONTRAST("except"),
	CONTRAST("结果"), CONTRAST("没想到"), CONTRAST("想不到"), CONTRAST("谁知"),
	CONTRAST("谁知道"),
	/* a fear or an expectation: answered by what follows */
	EXPECT("以为"), EXPECT("本以为"), EXPECT("原以为"), EXPECT("还以为"),
	EXPECT("本来以为"), EXPECT("原本以为"), EXPECT("担心"), EXPECT("生怕"),
	EXPECT("害怕"), EXPECT("怕"), EXPECT("worried"), EXPECT("worry"),
	EXPECT("expected"), EXPECT("expecting"), EXPECT("afraid"), EXPECT("feared"),
	EXPECT("thought"), EXPECT("assumed"), EXPECT("hoped"),
	CONCESS("虽然"), CONCESS("虽"), CONCESS("尽管"), CONCESS("虽说"),
	CONCESS("although"), CONCESS("though"), CONCESS("despite"),
	CONCESS("while"),

	/* function words that do not use up a negation or degree scope */
	STOP("的"), STOP("了"), STOP("是"), STOP("得"), STOP("地"), STOP("着"),
	STOP("那么"), STOP("这么"), STOP("想象中"), STOP("想象的"), STOP("想像中"), STOP("会"), STOP("能"), STOP("给"), STOP("很是"),
	STOP("the"), STOP("a"), STOP("an"), STOP("be"), STOP("is"), STOP("was"),
	STOP("were"), STOP("are"), STOP("been"), STOP("am"), STOP("at"),
	STOP("all"), STOP("that"), STOP("this"), STOP("it"), STOP("to"),
	STOP("of"), STOP("for"), STOP("my"), STOP("our"), STOP("your"),
	STOP("have"), STOP("has"), STOP("had"), STOP("do"), STOP("does"),
	STOP("did"), STOP("get"), STOP("got"), STOP("even"), STOP("as"),
	STOP("any"), STOP("i"), STOP("we"), STOP("they"), STOP("you"),
	STOP("he"), STOP("she"), STOP("its"), STOP("one"), STOPA("food", SENT_TOPIC_TASTE),
	STOP("feel"), STOP("seem"), STOP("seems"), STOP("look"), STOP("looks"),

	/* delivery: speed */
	W("快", 1.2f, 0, LATE, 0), W("很快", 1.8f, 0, LATE, 0),
	W("挺快", 1.6f, 0, LATE, 0), W("送得快", 2.0f, 0, LATE, 0),
	W("送餐快", 2.0f, 0, LATE, 0), W("速度快", 2.0f, 0, LATE, 0),
	W("准时", 1.8f, 0, LATE, 0), W("及时", 1.5f, 0, LATE, 0),
	W("按时", 1.5f, 0, LATE, 0), W("迅速", 1.8f, 0, LATE, 0),
	W("神速", 2.2f, 0, LATE, 0), W("提前", 1.2f, 0, LATE, 0),
	W("快速", 1.5f, 0, LATE, 0), W("麻利", 1.5f, 0, LATE, 0),
	W("慢", -1.6f, LATE, 0, 0), W("太慢", -2.4f, LATE, 0, 0),
	W("很慢", -2.2f, LATE, 0, 0), W("好慢", -2.2f, LATE, 0, 0),
	W("慢死", -2.8f, LATE, 0, 0), W("超时", -2.2f, LATE, 0, 0),
	W("迟到", -2.0f, LATE, 0, 0), W("晚到", -1.8f, LATE, 0, 0),
	W("晚了", -1.2f, LATE, 0, 0), W("延误", -2.0f, LATE, 0, 0),
	W("磨蹭", -1.8f, LATE, 0, 0), W("催单", -1.5f, LATE, 0, 0),
	W("催了", -1.5f, LATE, 0, 0), W("等了", -1.0f, LATE, 0, 0),
	W("等半天", -2.2f, LATE, 0, 0), W("半天", -0.8f, 0, 0, LATE),
	W("一个多小时", -2.2f, LATE, 0, 0), W("两个小时", -2.2f, LATE, 0, 0),
	W("两个多小时", -2.6f, LATE, 0, 0), W("一个半小时", -2.2f, LATE, 0, 0),
	W("小时", -0.6f, 0, 0, LATE), W("分钟", 0.0f, 0, 0, LATE),
	W("还没到", -1.8f, LATE, 0, 0), W("还没送到", -2.2f, LATE, 0, 0),
	W("等到", -0.8f, LATE, 0, 0), W("送达", 0.3f, 0, 0, LATE),
	W("配送", 0.0f, 0, 0, LATE), W("送餐", 0.0f, 0, 0, LATE),
	W("late", -1.8f, LATE, 0, 0), W("slow", -1.6f, LATE, 0, 0),
	W("slowly", -1.2f, LATE, 0, 0), W("forever", -1.5f, LATE, 0, 0),
	W("delayed", -1.8f, LATE, 0, 0), W("delay", -1.5f, LATE, 0, 0),
	W("hour", -0.5f, 0, 0, LATE), W("hours", -0.8f, 0, 0, LATE),
	W("minutes", -0.2f, 0, 0, LATE), W("waited", -0.8f, 0, 0, LATE),
	W("wait", -0.3f, 0, 0, LATE), W("waiting", -0.6f, 0, 0, LATE),
	W("fast", 1.5f, 0, LATE, 0), W("quick", 1.5f, 0, LATE, 0),
	W("quickly", 1.3f, 0, LATE, 0), W("prompt", 1.5f, 0, LATE, 0),
	W("promptly", 1.5f, 0, LATE, 0), W("timely", 1.5f, 0, LATE, 0),
	W("punctual", 1.5f, 0, LATE, 0), W("early", 0.8f, 0, LATE, 0),

	/* delivery: temperature */
	W("凉", -1.5f, COLD, 0, 0), W("凉了", -2.2f, COLD, 0, 0),
	W("冰凉", -2.2f, COLD, 0, 0), W("冷了", -2.0f, COLD, 0, 0),
	W("凉透", -2.6f, COLD, 0, 0), W("凉凉", -1.6f, COLD, 0, 0),
	W("冰冷", -2.0f, COLD, 0, 0), W("温吞", -1.2f, COLD, 0, 0),
	W("热", 0.8f, 0, COLD, 0), W("热乎", 1.8f, 0, COLD, 0),
	W("热乎乎", 2.0f, 0, COLD, 0), W("热腾腾", 2.0f, 0, COLD, 0),
	W("热的", 1.2f, 0, COLD, 0), W("烫", 0.8f, 0, COLD, 0),
	W("温热", 1.0f, 0, COLD, 0),
	W("cold", -1.6f, COLD, 0, 0), WN("lukewarm", -1.8f, COLD),
	W("hot", 1.0f, 0, COLD, 0), W("warm", 1.0f, 0, COLD, 0),
	W("fresh", 1.5f, 0, HYG, 0),

	/* delivery: spills and packaging */
	W("洒", -1.8f, SPILL, 0, 0), W("洒了", -2.4f, SPILL, 0, 0),
	W("撒了", -2.2f, SPILL, 0, 0), WF("漏了", -2.0f, SPILL, 0, 0, F_COUNT),
	W("漏汤", -2.4f, SPILL, 0, 0), W("汤洒", -2.4f, SPILL, 0, 0),
	W("溢出", -1.8f, SPILL, 0, 0), W("破了", -1.8f, SPILL, 0, 0),
	W("破损", -2.0f, SPILL, 0, 0), W("压扁", -1.8f, SPILL, 0, 0),
	W("压坏", -2.0f, SPILL, 0, 0), W("到处都是", -1.6f, SPILL, 0, 0),
	W("包装", 0.0f, 0, 0, SPILL), W("餐盒", 0.0f, 0, 0, SPILL),
	W("盒子", 0.0f, 0, 0, SPILL), W("袋子", 0.0f, 0, 0, SPILL),
	W("完好", 1.2f, 0, SPILL, 0), W("严实", 1.2f, 0, SPILL, 0),
	W("密封", 0.8f, 0, SPILL, 0), W("包装好", 1.5f, 0, SPILL, 0),
	W("spilled", -2.2f, SPILL, 0, 0), W("spilt", -2.2f, SPILL, 0, 0),
	W("spill", -1.8f, SPILL, 0, 0), W("leaked", -2.0f, SPILL, 0, 0),
	W("leaking", -2.0f, SPILL, 0, 0), W("leak", -1.6f, SPILL, 0, 0),
	W("crushed", -1.8f, SPILL, 0, 0), W("squashed", -1.8f, SPILL, 0, 0),
	W("packaging", 0.0f, 0, 0, SPILL), W("package", 0.0f, 0, 0, SPILL),
	W("sealed", 0.8f, 0, SPILL, 0),

	/* delivery: wrong and missing items */
	W("送错", -2.6f, WRONG, 0, 0), W("错了", -1.6f, WRONG, 0, 0),
	W("拿错", -2.4f, WRONG, 0, 0), W("做错", -2.2f, WRONG, 0, 0),
	W("弄错", -2.2f, WRONG, 0, 0), W("配错", -2.2f, WRONG, 0, 0),
	W("搞错", -2.2f, WRONG, 0, 0), W("给错", -2.4f, WRONG, 0, 0),
	W("wrong", -1.8f, WRONG, 0, 0), W("incorrect", -1.8f, WRONG, 0, 0),
	W("少送", -2.6f, MISS, 0, 0), W("漏送", -2.6f, MISS, 0, 0),
	WF("少了", -1.5f, MISS, 0, 0, F_COUNT), W("少给", -2.4f, MISS, 0, 0),
	W("少一个", -2.0f, MISS, 0, 0), W("少一份", -2.2f, MISS, 0, 0),
	W("少放", 0.0f, 0, 0, 0), W("少放了", -1.6f, MISS, 0, 0), W("没给", -1.6f, MISS, 0, 0),
	W("没放", -1.6f, MISS, 0, 0), W("忘了", -1.4f, MISS, 0, 0),
	W("忘记", -1.4f, MISS, 0, 0), W("缺", -1.2f, MISS, 0, 0),
	W("筷子", 0.0f, 0, MISS, 0), W("餐具", 0.0f, 0, MISS, 0),
	W("勺子", 0.0f, 0, MISS, 0), W("纸巾", 0.0f, 0, MISS, 0),
	W("饮料", 0.0f, 0, MISS, 0), W("米饭", 0.0f, 0, MISS, 0),
	W("missing", -2.0f, MISS, 0, 0), W("forgot", -1.8f, MISS, 0, 0),
	W("forgotten", -1.8f, MISS, 0, 0), W("utensils", 0.0f, 0, MISS, 0), W("chopsticks", 0.0f, 0, MISS, 0),
	W("napkins", 0.0f, 0, MISS, 0), W("sauce", 0.0f, 0, MISS, 0),
	W("drink", 0.0f, 0, MISS, 0), W("drinks", 0.0f, 0, MISS, 0),

	/* delivery: the rider */
	W("态度差", -2.6f, RIDER, 0, 0), W("态度不好", -2.6f, RIDER, 0, 0),
	W("态度恶劣", -3.0f, RIDER, 0, 0), W("没礼貌", -2.2f, RIDER, 0, 0),
	W("不礼貌", -2.2f, RIDER, 0, 0), W("不耐烦", -2.0f, RIDER, 0, 0),
	W("骂人", -2.6f, RIDER, 0, 0), W("骂", -1.8f, RIDER, 0, 0),
	W("凶", -1.5f, RIDER, 0, 0), W("粗鲁", -2.2f, RIDER, 0, 0),
	W("甩脸", -2.2f, RIDER, 0, 0), W("吼", -1.6f, RIDER, 0, 0),
	W("挂电话", -1.8f, RIDER, 0, 0), W("不接电话", -2.0f, RIDER, 0, 0),
	W("态度好", 2.2f, 0, RIDER, 0), W("态度很好", 2.4f, 0, RIDER, 0),
	W("热情", 1.8f, 0, RIDER, 0), W("礼貌", 1.5f, 0, RIDER, 0),
	W("有礼貌", 1.8f, 0, RIDER, 0), W("耐心", 1.5f, 0, RIDER, 0),
	W("辛苦", 1.6f, 0, 0, 0), W("辛苦了", 2.2f, 0, 0, 0),
	W("态度", 0.0f, 0, 0, RIDER), W("骑手", 0.0f, 0, 0, RIDER),
	W("小哥", 0.5f, 0, 0, RIDER), W("外卖小哥", 0.5f, 0, 0, RIDER),
	W("送餐员", 0.0f, 0, 0, RIDER), W("配送员", 0.0f, 0, 0, RIDER),
	W("外卖员", 0.0f, 0, 0, RIDER), W("快递员", 0.0f, 0, 0, RIDER),
	W("师傅", 0.3f, 0, 0, RIDER),
	W("rude", -2.4f, RIDER, 0, 0), W("impolite", -2.2f, RIDER, 0, 0),
	W("yelled", -2.0f, RIDER, 0, 0), W("shouted", -1.8f, RIDER, 0, 0),
	W("polite", 1.6f, 0, RIDER, 0), W("courteous", 1.6f, 0, RIDER, 0),
	W("rider", 0.0f, 0, 0, RIDER), W("driver", 0.0f, 0, 0, RIDER),
	W("courier", 0.0f, 0, 0, RIDER), W("attitude", -0.3f, 0, 0, RIDER),

	/* food: taste */
	W("好吃", 2.4f, 0, TASTE, 0), W("很好吃", 2.8f, 0, TASTE, 0),
	W("美味", 2.2f, 0, TASTE, 0), W("可口", 2.0f, 0, TASTE, 0),
	W("香", 1.2f, 0, TASTE, 0), W("好香", 2.0f, 0, TASTE, 0),
	W("入味", 1.6f, 0, TASTE, 0), W("鲜", 1.0f, 0, TASTE, 0),
	W("新鲜", 1.6f, 0, HYG, 0), W("地道", 1.5f, 0, TASTE, 0),
	W("好喝", 2.2f, 0, TASTE, 0), W("下饭", 1.8f, 0, TASTE, 0),
	W("嫩", 1.2f, 0, TASTE, 0), W("酥脆", 1.5f, 0, TASTE, 0),
	W("难吃", -3.0f, TASTE, 0, 0), W("难喝", -2.8f, TASTE, 0, 0),
	W("太咸", -2.2f, TASTE, 0, 0), W("咸", -0.8f, TASTE, 0, 0),
	W("齁", -2.0f, TASTE, 0, 0), W("没味", -2.0f, TASTE, 0, 0),
	W("没味道", -2.0f, TASTE, 0, 0), W("淡", -0.6f, 0, 0, TASTE),
	W("腥", -1.8f, TASTE, 0, 0), W("油腻", -1.6f, TASTE, 0, 0),
	W("糊了", -2.0f, TASTE, 0, 0), W("焦了", -1.8f, TASTE, 0, 0),
	W("硬", -0.8f, TASTE, 0, 0), W("不新鲜", -2.4f, HYG, 0, 0),
	W("一般", -1.0f, 0, 0, 0), W("一般般", -1.2f, 0, 0, 0),
	W("味道", 0.0f, 0, TASTE, TASTE), W("口味", 0.0f, 0, TASTE, TASTE),
	W("口感", 0.0f, 0, 0, TASTE), W("吃起来", 0.0f, 0, 0, TASTE),
	W("bland", -1.8f, TASTE, 0, 0), W("tasteless", -2.2f, TASTE, 0, 0),
	W("salty", -1.4f, TASTE, 0, 0), W("greasy", -1.6f, TASTE, 0, 0),
	W("oily", -1.2f, TASTE, 0, 0), W("soggy", -1.8f, TASTE, 0, 0),
	W("stale", -2.0f, TASTE, 0, 0), W("overcooked", -1.8f, TASTE, 0, 0),
	W("undercooked", -2.0f, TASTE, 0, 0), W("burnt", -1.8f, TASTE, 0, 0),
	W("delicious", 2.6f, 0, TASTE, 0), W("tasty", 2.2f, 0, TASTE, 0),
	W("yummy", 2.2f, 0, TASTE, 0), W("flavorful", 2.0f, 0, TASTE, 0),
	W("taste", 0.0f, 0, 0, TASTE), W("tastes", 0.0f, 0, 0, TASTE),
	W("flavor", 0.2f, 0, TASTE, TASTE), W("flavour", 0.2f, 0, TASTE, TASTE),

	/* food: portion */
	W("量少", -2.0f, PORT, 0, 0), W("分量少", -2.2f, PORT, 0, 0),
	W("太少", -2.0f, PORT, 0, 0), W("不够吃", -2.0f, PORT, 0, 0),
	W("吃不饱", -2.0f, PORT, 0, 0), W("缩水", -1.8f, PORT, 0, 0),
	W("少得可怜", -2.6f, PORT, 0, 0), W("量很少", -2.2f, PORT, 0, 0),
	W("分量足", 2.2f, 0, PORT, 0), W("分量十足", 2.4f, 0, PORT, 0),
	W("量足", 2.0f, 0, PORT, 0), W("量大", 1.8f, 0, PORT, 0),
	W("份量足", 2.2f, 0, PORT, 0), W("够吃", 1.5f, 0, PORT, 0),
	W("管饱", 1.8f, 0, PORT, 0), W("足", 0.6f, 0, PORT, 0),
	W("分量", 0.0f, 0, 0, PORT), W("份量", 0.0f, 0, 0, PORT),
	W("量", 0.0f, 0, 0, PORT), W("portion", 0.0f, 0, 0, PORT),
	W("portions", 0.0f, 0, 0, PORT), W("tiny", -1.0f, PORT, 0, 0),
	W("skimpy", -1.8f, PORT, 0, 0), W("generous", 1.8f, 0, PORT, 0),

	/* price */
	W("贵", -1.2f, PRICE, 0, 0), W("太贵", -2.0f, PRICE, 0, 0),
	W("坑", -1.8f, PRICE, 0, 0), W("坑人", -2.4f, PRICE, 0, 0),
	W("不值", -2.0f, PRICE, 0, 0), W("涨价", -1.4f, PRICE, 0, 0),
	W("宰客", -2.4f, PRICE, 0, 0), W("黑心", -2.6f, PRICE, 0, 0),
	W("性价比低", -2.0f, PRICE, 0, 0), W("便宜", 1.2f, 0, PRICE, 0),
	W("实惠", 1.8f, 0, PRICE, 0), W("划算", 1.8f, 0, PRICE, 0),
	W("值", 1.0f, 0, PRICE, 0), W("值得", 1.6f, 0, PRICE, 0),
	W("性价比高", 2.0f, 0, PRICE, 0), W("超值", 2.0f, 0, PRICE, 0),
	WF("价格", 0.0f, 0, 0, PRICE, F_FRAME), WF("价钱", 0.0f, 0, 0, PRICE, F_FRAME),
	W("性价比", 0.3f, 0, 0, PRICE), W("配送费", 0.0f, 0, 0, PRICE),
	W("打包费", 0.0f, 0, 0, PRICE), W("钱", -0.2f, 0, 0, PRICE),
	W("expensive", -1.4f, PRICE, 0, 0), W("overpriced", -2.2f, PRICE, 0, 0),
	W("pricey", -1.2f, PRICE, 0, 0), W("ripoff", -2.4f, PRICE, 0, 0),
	W("cheap", 0.6f, 0, PRICE, 0), W("affordable", 1.5f, 0, PRICE, 0),
	W("worth", 1.5f, 0, PRICE, 0), W("bargain", 1.8f, 0, PRICE, 0),
	WF("price", -0.1f, 0, 0, PRICE, F_FRAME), WF("prices", -0.1f, 0, 0, PRICE, F_FRAME),
	W("money", -0.3f, 0, 0, PRICE), W("fee", -0.3f, 0, 0, PRICE),

	/* hygiene */
	W("头发", -2.6f, HYG, 0, 0), W("虫", -2.4f, HYG, 0, 0),
	W("虫子", -2.8f, HYG, 0, 0), W("苍蝇", -2.8f, HYG, 0, 0),
	W("蟑螂", -3.0f, HYG, 0, 0), W("异物", -2.6f, HYG, 0, 0),
	W("脏", -2.0f, HYG, 0, 0), W("变质", -2.8f, HYG, 0, 0),
	W("馊", -2.6f, HYG, 0, 0), W("馊了", -2.8f, HYG, 0, 0),
	W("发霉", -2.8f, HYG, 0, 0), W("坏了", -1.8f, HYG, 0, 0),
	W("拉肚子", -3.0f, HYG, 0, 0), W("吃坏", -2.6f, HYG, 0, 0),
	W("食物中毒", -3.0f, HYG, 0, 0), W("过期", -2.2f, HYG, 0, 0),
	W("臭", -2.0f, HYG, 0, 0), W("恶心", -2.4f, HYG, 0, 0),
	W("干净", 1.5f, 0, HYG, 0), W("卫生", 1.2f, 0, HYG, 0),
	W("hair", -1.6f, HYG, 0, 0), W("bug", -1.8f, HYG, 0, 0),
	W("bugs", -2.0f, HYG, 0, 0), W("cockroach", -2.8f, HYG, 0, 0),
	W("dirty", -2.2f, HYG, 0, 0), W("filthy", -2.6f, HYG, 0, 0),
	W("moldy", -2.6f, HYG, 0, 0), W("rotten", -2.6f, HYG, 0, 0),
	W("spoiled", -2.2f, HYG, 0, 0), W("expired", -2.0f, HYG, 0, 0),
	W("poisoning", -2.8f, HYG, 0, 0), W("diarrhea", -2.8f, HYG, 0, 0),
	W("clean", 1.4f, 0, HYG, 0), W("hygienic", 1.5f, 0, HYG, 0),

	/* general Chinese review vocabulary */
	W("好评", 2.6f, 0, 0, 0), W("五星", 2.2f, 0, 0, 0), W("满分", 2.4f, 0, 0, 0),
	W("差评", -2.8f, 0, 0, 0), W("一星", -2.0f, 0, 0, 0),
	W("推荐", 1.6f, 0, 0, 0), W("满意", 2.0f, 0, 0, 0), W("喜欢", 1.8f, 0, 0, 0),
	W("不错", 2.0f, 0, 0, 0), W("很不错", 2.4f, 0, 0, 0), W("还不错", 1.8f, 0, 0, 0),
	W("棒", 2.2f, 0, 0, 0), W("赞", 2.2f, 0, 0, 0), W("点赞", 2.2f, 0, 0, 0),
	W("给力", 2.2f, 0, 0, 0), W("完美", 2.4f, 0, 0, 0), W("惊喜", 1.8f, 0, 0, 0),
	W("回购", 2.2f, 0, 0, 0), W("还会再点", 2.6f, 0, 0, 0), W("会再点", 2.4f, 0, 0, 0),
	W("再来", 1.4f, 0, 0, 0), W("还会再来", 2.4f, 0, 0, 0), W("常点", 1.8f, 0, 0, 0),
	W("谢谢", 1.4f, 0, 0, 0), W("感谢", 1.5f, 0, 0, 0), W("还行", 0.8f, 0, 0, 0),
	W("可以", 0.6f, 0, 0, 0), W("挺好", 2.0f, 0, 0, 0), W("好", 1.2f, 0, 0, 0),
	W("不少", 0.6f, 0, 0, 0), W("不错的", 2.0f, 0, 0, 0),
	W("差", -2.0f, 0, 0, 0), W("太差", -2.8f, 0, 0, 0), W("很差", -2.6f, 0, 0, 0),
	W("垃圾", -2.8f, 0, 0, 0), W("失望", -2.4f, 0, 0, 0), W("后悔", -2.0f, 0, 0, 0),
	W("无语", -2.2f, 0, 0, 0), W("坑爹", -2.6f, 0, 0, 0), W("投诉", -2.2f, 0, 0, 0),
	W("退款", -1.8f, 0, 0, 0), W("不会再点", -3.0f, 0, 0, 0), W("再也不", -2.6f, 0, 0, 0),
	W("别点", -2.8f, 0, 0, 0), W("别买", -2.6f, 0, 0, 0), W("拉黑", -2.8f, 0, 0, 0),
	W("上当", -2.4f, 0, 0, 0), W("糟糕", -2.4f, 0, 0, 0), W("郁闷", -1.8f, 0, 0, 0),
	W("生气", -2.0f, 0, 0, 0), W("气人", -2.2f, 0, 0, 0), W("服了", -1.6f, 0, 0, 0),
	W("什么鬼", -2.2f, 0, 0, 0), W("呵呵", -1.2f, 0, 0, 0), W("坑货", -2.6f, 0, 0, 0),
	W("麻烦", -1.2f, 0, 0, 0), W("敷衍", -2.0f, 0, 0, 0), W("凑合", -0.6f, 0, 0, 0),
	W("哈哈", 0.8f, 0, 0, 0), W("开心", 1.8f, 0, 0, 0), W("贴心", 2.0f, 0, 0, 0),
	W("周到", 1.8f, 0, 0, 0), W("及时送到", 2.0f, 0, LATE, 0),
	WF("没送到", -2.2f, LATE, 0, 0, F_ARRIVE), W("送晚了", -2.0f, LATE, 0, 0), W("准点", 1.6f, 0, LATE, 0),
	W("难以下咽", -3.0f, TASTE, 0, 0), W("怪味", -2.2f, TASTE, 0, 0), W("味道怪", -2.0f, TASTE, 0, 0),
	W("没熟", -2.4f, HYG, 0, 0), W("夹生", -2.2f, TASTE, 0, 0), W("太油", -1.8f, TASTE, 0, 0),
	W("油太大", -1.8f, TASTE, 0, 0), W("骑士", 0.2f, 0, 0, RIDER), W("没看备注", -2.2f, WRONG, 0, 0),
	W("不按备注", -2.2f, WRONG, 0, 0), WF("备注", -0.2f, 0, 0, WRONG, F_CARRY), W("冷的", -1.2f, COLD, 0, 0),
	W("凉的", -1.4f, COLD, 0, 0), W("冷掉", -2.0f, COLD, 0, 0), W("冷冰冰", -1.8f, COLD, 0, 0),
	W("冷的天", 0.0f, 0, 0, 0), W("冷天", 0.0f, 0, 0, 0), W("天冷", 0.0f, 0, 0, 0),
	W("大冷天", 0.0f, 0, 0, 0), W("下雨", 0.0f, 0, 0, 0), W("一如既往", 0.8f, 0, 0, 0),
	W("包装精致", 1.8f, 0, SPILL, 0), W("服务好", 1.8f, 0, 0, 0), W("客服", -0.3f, 0, 0, 0),

	/* general English review vocabulary */
	W("good", 1.6f, 0, 0, 0), W("great", 2.2f, 0, 0, 0), W("excellent", 2.6f, 0, 0, 0),
	W("amazing", 2.6f, 0, 0, 0), W("awesome", 2.4f, 0, 0, 0), W("perfect", 2.4f, 0, 0, 0),
	W("love", 2.2f, 0, 0, 0), W("loved", 2.2f, 0, 0, 0), W("loves", 2.0f, 0, 0, 0),
	W("like", 0.6f, 0, 0, 0), W("liked", 1.2f, 0, 0, 0), W("nice", 1.6f, 0, 0, 0),
	W("best", 2.2f, 0, 0, 0), W("better", 0.8f, 0, 0, 0), W("fine", 0.8f, 0, 0, 0),
	W("happy", 1.8f, 0, 0, 0), W("pleased", 1.8f, 0, 0, 0), W("satisfied", 1.8f, 0, 0, 0),
	W("recommend", 1.8f, 0, 0, 0), W("recommended", 1.8f, 0, 0, 0),
	W("wonderful", 2.4f, 0, 0, 0), W("fantastic", 2.6f, 0, 0, 0), W("superb", 2.6f, 0, 0, 0),
	W("outstanding", 2.6f, 0, 0, 0), W("brilliant", 2.4f, 0, 0, 0), W("enjoyed", 2.0f, 0, 0, 0),
	W("enjoy", 1.6f, 0, 0, 0), W("impressed", 2.0f, 0, 0, 0), W("impressive", 2.0f, 0, 0, 0),
	W("friendly", 1.8f, 0, RIDER, 0), W("helpful", 1.8f, 0, 0, 0), W("thanks", 1.4f, 0, 0, 0),
	W("thank", 1.4f, 0, 0, 0), W("works", 1.2f, 0, 0, 0), W("worked", 0.8f, 0, 0, 0),
	W("reliable", 1.6f, 0, 0, 0), W("solid", 1.2f, 0, 0, 0), W("sturdy", 1.4f, 0, 0, 0),
	W("comfortable", 1.6f, 0, 0, 0), W("easy", 1.2f, 0, 0, 0), W("beautiful", 2.0f, 0, 0, 0),
	W("beautifully", 2.0f, 0, 0, 0), W("funny", 1.4f, 0, 0, 0), W("favorite", 2.0f, 0, 0, 0),
	W("masterpiece", 2.6f, 0, 0, 0), W("gem", 2.0f, 0, 0, 0), W("cool", 1.2f, 0, 0, 0),
	W("incredible", 2.2f, 0, 0, 0), W("exceptional", 2.4f, 0, 0, 0), W("lovely", 2.0f, 0, 0, 0),
	W("pleasant", 1.6f, 0, 0, 0), W("glad", 1.6f, 0, 0, 0), W("well", 0.6f, 0, 0, 0),
	W("worthwhile", 1.8f, 0, 0, 0), W("charming", 1.8f, 0, 0, 0), W("touching", 1.6f, 0, 0, 0),
	W("highly", 0.8f, 0, 0, 0), W("wow", 1.2f, 0, 0, 0), W("fun", 1.4f, 0, 0, 0),
	W("bad", -2.0f, 0, 0, 0), W("terrible", -2.6f, 0, 0, 0), W("awful", -2.6f, 0, 0, 0),
	W("horrible", -2.6f, 0, 0, 0), W("worst", -2.8f, 0, 0, 0), W("poor", -2.0f, 0, 0, 0),
	W("poorly", -2.0f, 0, 0, 0), W("disappointed", -2.4f, 0, 0, 0),
	W("disappointing", -2.4f, 0, 0, 0), W("disappointment", -2.4f, 0, 0, 0),
	W("hate", -2.2f, 0, 0, 0), W("hated", -2.2f, 0, 0, 0), W("waste", -2.4f, 0, 0, 0),
	W("wasted", -2.2f, 0, 0, 0), W("useless", -2.4f, 0, 0, 0), W("broke", -2.0f, 0, 0, 0),
	W("broken", -2.0f, 0, 0, 0), W("junk", -2.4f, 0, 0, 0), W("crap", -2.4f, 0, 0, 0),
	W("garbage", -2.4f, 0, 0, 0), W("disgusting", -2.8f, TASTE, 0, 0),
	W("gross", -2.2f, TASTE, 0, 0), W("boring", -2.2f, 0, 0, 0), W("dull", -1.8f, 0, 0, 0),
	W("stupid", -2.0f, 0, 0, 0), W("annoying", -2.0f, 0, 0, 0), W("mediocre", -1.6f, 0, 0, 0),
	W("problem", -1.2f, 0, 0, 0), W("problems", -1.4f, 0, 0, 0), W("issue", -0.8f, 0, 0, 0),
	W("issues", -1.0f, 0, 0, 0), W("fail", -2.0f, 0, 0, 0), W("failed", -2.0f, 0, 0, 0),
	W("fails", -2.0f, 0, 0, 0), W("return", -0.8f, 0, 0, 0), W("returned", -1.4f, 0, 0, 0),
	W("refund", -1.6f, 0, 0, 0), W("unacceptable", -2.6f, 0, 0, 0), W("avoid", -2.2f, 0, 0, 0),
	W("sucks", -2.6f, 0, 0, 0), W("suck", -2.4f, 0, 0, 0), W("sucked", -2.6f, 0, 0, 0),
	W("lame", -2.0f, 0, 0, 0), W("pathetic", -2.4f, 0, 0, 0), W("ridiculous", -2.0f, 0, 0, 0),
	W("unfortunately", -1.0f, 0, 0, 0), W("mess", -1.8f, 0, 0, 0), W("cheaply", -1.6f, 0, 0, 0),
	W("flimsy", -1.8f, 0, 0, 0), W("uncomfortable", -1.8f, 0, 0, 0), W("weak", -1.4f, 0, 0, 0),
	W("dead", -1.2f, 0, 0, 0), W("died", -1.4f, 0, 0, 0), W("unusable", -2.4f, 0, 0, 0),
	W("doesn", -0.5f, 0, 0, 0), W("complaint", -1.6f, 0, 0, 0), W("complain", -1.2f, 0, 0, 0),
	W("angry", -2.2f, 0, 0, 0), W("sad", -1.2f, 0, 0, 0), W("worse", -2.0f, 0, 0, 0),
	W("unhappy", -2.2f, 0, 0, 0), W("hassle", -1.6f, 0, 0, 0),
	W("cheesy", -1.2f, 0, 0, 0), W("predictable", -1.2f, 0, 0, 0), W("pointless", -2.0f, 0, 0, 0),
	W("awkward", -1.4f, 0, 0, 0), W("unbearable", -2.4f, 0, 0, 0), W("painful", -1.8f, 0, 0, 0),
	W("slowest", -2.2f, LATE, 0, 0), W("meh", -1.2f, 0, 0, 0), W("ok", 0.4f, 0, 0, 0),
	W("okay", 0.4f, 0, 0, 0), W("yuck", -2.4f, TASTE, 0, 0), W("lol", 0.6f, 0, 0, 0),
	W("qaq", -1.6f, 0, 0, 0), W("orz", -1.2f, 0, 0, 0),
	W("sloppy", -2.0f, 0, 0, 0), W("shame", -1.6f, 0, 0, 0), W("unpleasant", -2.0f, 0, 0, 0),
	W("stinker", -2.4f, 0, 0, 0), W("stinks", -2.4f, 0, 0, 0), W("lousy", -2.4f, 0, 0, 0),
	W("inferior", -2.0f, 0, 0, 0), W("defective", -2.4f, 0, 0, 0), W("faulty", -2.2f, 0, 0, 0),
	W("regret", -2.0f, 0, 0, 0), W("unreliable", -2.2f, 0, 0, 0), W("frustrating", -2.2f, 0, 0, 0),
	W("frustrated", -2.0f, 0, 0, 0), W("upset", -1.8f, 0, 0, 0), W("nasty", -2.4f, TASTE, 0, 0),
	W("inedible", -2.8f, TASTE, 0, 0), W("vomited", -2.6f, HYG, 0, 0), W("sick", -1.8f, HYG, 0, 0),
	W("mediocrity", -1.8f, 0, 0, 0), W("overrated", -1.8f, 0, 0, 0),
	W("terribly", -2.0f, 0, 0, 0), W("horribly", -2.2f, 0, 0, 0), W("badly", -1.8f, 0, 0, 0),
	W("compliments", 1.8f, 0, 0, 0), W("winner", 2.0f, 0, 0, 0), W("comfortably", 1.4f, 0, 0, 0),
	W("securely", 1.2f, 0, 0, 0), W("perfectly", 2.2f, 0, 0, 0), W("applause", 1.8f, 0, 0, 0),
	W("applauded", 1.8f, 0, 0, 0), W("triumph", 2.0f, 0, 0, 0), W("triumphed", 2.0f, 0, 0, 0),
	W("remarkable", 2.2f, 0, 0, 0), W("brilliance", 2.2f, 0, 0, 0), W("smoothly", 1.4f, 0, 0, 0),
	W("enjoyable", 2.0f, 0, 0, 0), W("entertaining", 1.8f, 0, 0, 0), W("delightful", 2.4f, 0, 0, 0),
	W("terrific", 2.4f, 0, 0, 0), W("splendid", 2.4f, 0, 0, 0), W("marvelous", 2.4f, 0, 0, 0),
	W("stunning", 2.2f, 0, 0, 0), W("flawless", 2.4f, 0, 0, 0), W("handy", 1.4f, 0, 0, 0),
	W("convenient", 1.4f, 0, 0, 0), W("excellently", 2.4f, 0, 0, 0), W("nicely", 1.6f, 0, 0, 0),
	W("wonderfully", 2.2f, 0, 0, 0), W("recommendation", 1.4f, 0, 0, 0), W("praise", 1.6f, 0, 0, 0),
	W("moving", 1.2f, 0, 0, 0), W("refreshing", 1.8f, 0, 0, 0), W("satisfying", 1.8f, 0, 0, 0),
	W("crisp", 1.2f, 0, 0, 0), W("clear", 0.8f, 0, 0, 0), W("works great", 2.4f, 0, 0, 0),
	W("on time", 1.8f, 0, LATE, 0), W("top notch", 2.4f, 0, 0, 0), W("well done", 2.0f, 0, 0, 0),
	W("at best", -1.4f, 0, 0, 0), W("steer clear", -2.4f, 0, 0, 0), W("never again", -2.6f, 0, 0, 0),
	W("waste of", -2.6f, 0, 0, 0), W("fell apart", -2.4f, 0, 0, 0), W("too late", -2.0f, LATE, 0, 0),
	W("took forever", -2.4f, LATE, 0, 0), W("go wrong", -1.6f, 0, 0, 0), W("left out", -1.6f, MISS, 0, 0),
	W("highly recommend", 2.6f, 0, 0, 0), W("must have", 2.0f, 0, 0, 0), W("no good", -2.2f, 0, 0, 0),
	W("hot food", 1.6f, 0, COLD, 0), W("cold food", -2.0f, COLD, 0, 0),

	/* takeaway phrasing, by topic (test/data/takeaway_regression.tsv) */
	/* late */
	W("才到", -1.4f, LATE, 0, 0), W("才送到", -1.6f, LATE, 0, 0), W("才送来", -1.6f, LATE, 0, 0),
	W("才来", -1.0f, LATE, 0, 0), W("才吃上", -1.6f, LATE, 0, 0), W("才拿到", -1.4f, LATE, 0, 0),
	W("才收到", -1.4f, LATE, 0, 0), W("迟迟", -1.6f, LATE, 0, 0), W("龟速", -2.2f, LATE, 0, 0),
	W("慢吞吞", -2.0f, LATE, 0, 0), W("磨磨蹭蹭", -2.0f, LATE, 0, 0), W("等得", -1.0f, LATE, 0, 0),
	W("等了好久", -2.0f, LATE, 0, 0), W("等好久", -2.0f, LATE, 0, 0), W("等太久", -2.0f, LATE, 0, 0),
	W("等了半天", -2.2f, LATE, 0, 0), W("花儿都谢了", -2.4f, LATE, 0, 0), W("花都谢了", -2.4f, LATE, 0, 0),
	W("饿过头", -2.0f, LATE, 0, 0), W("饿死了", -1.6f, LATE, 0, 0), W("好久", -0.8f, 0, 0, LATE),
	W("久", -0.6f, 0, 0, LATE), W("配送中", 0.0f, 0, 0, LATE), W("预计", 0.0f, 0, 0, LATE),
	W("延迟", -1.8f, LATE, 0, 0), W("拖了", -1.4f, LATE, 0, 0), W("晚送", -1.8f, LATE, 0, 0),
	W("送晚", -1.8f, LATE, 0, 0), W("半小时", -0.4f, 0, 0, LATE), W("半个小时", -0.4f, 0, 0, LATE),
	W("钟头", -0.4f, 0, 0, LATE), W("还没来", -1.8f, LATE, 0, 0), W("一直没到", -2.2f, LATE, 0, 0),
	WF("没到", -1.4f, LATE, 0, 0, F_ARRIVE), W("还没送", -1.8f, LATE, 0, 0), W("虚假送达", -2.6f, RIDER | LATE, 0, 0),
	W("点了送达", -2.2f, RIDER | LATE, 0, 0), W("点了已送达", -2.2f, RIDER | LATE, 0, 0),
	W("早到", 1.5f, 0, LATE, 0), W("提前送到", 2.0f, 0, LATE, 0), W("没等多久", 1.6f, 0, 0, 0),
	W("飞快", 2.0f, 0, LATE, 0), W("秒到", 2.0f, 0, LATE, 0),
	W("took ages", -2.2f, LATE, 0, 0), W("got lost", -1.4f, LATE, 0, 0), W("take long", -1.4f, LATE, 0, 0),
	W("took long", -1.4f, LATE, 0, 0), W("still waiting", -2.0f, LATE, 0, 0), W("ages", -0.6f, 0, 0, LATE),
	W("delivery time", 0.0f, 0, 0, LATE), W("estimated time", 0.0f, 0, 0, LATE), W("past", -0.4f, 0, 0, LATE),
	W("promised", 0.0f, 0, 0, LATE), W("until", 0.0f, 0, LATE, 0), W("behind schedule", -1.8f, LATE, 0, 0),
	W("showed up", 0.0f, 0, 0, LATE), W("eta", 0.0f, 0, 0, LATE),
	/* cold */
	W("温吞吞", -1.8f, COLD, 0, 0), W("温的", -1.2f, COLD, 0, 0), W("热气", 0.8f, 0, COLD, 0),
	W("冷掉了", -2.2f, COLD, 0, 0), W("冰块一样", -2.0f, COLD, 0, 0), W("冰疙瘩", -2.0f, COLD, 0, 0),
	W("凝固", -1.4f, COLD, 0, 0), W("凝住", -1.4f, COLD, 0, 0), W("凝了", -1.4f, COLD, 0, 0),
	W("冰冰凉凉", -2.0f, COLD, 0, 0), W("凉飕飕", -1.8f, COLD, 0, 0), W("烫的", 1.0f, 0, COLD, 0),
	W("热着", 1.2f, 0, COLD, 0), W("冒着热气", 2.0f, 0, COLD, 0), W("不热乎", -1.8f, COLD, 0, 0),
	W("room temperature", -1.6f, COLD, 0, 0), W("congealed", -1.6f, COLD, 0, 0),
	W("freezing", -1.2f, COLD, 0, 0), W("piping hot", 2.0f, 0, COLD, 0), W("stone cold", -2.2f, COLD, 0, 0),
	/* spilled and packaging */
	W("全是汤", -2.0f, SPILL, 0, 0), W("都是汤", -2.0f, SPILL, 0, 0), W("湿透", -1.8f, SPILL, 0, 0),
	W("湿了", -1.4f, SPILL, 0, 0), W("颠得", -1.4f, SPILL, 0, 0), W("颠烂", -2.0f, SPILL, 0, 0),
	W("稀巴烂", -2.2f, SPILL, 0, 0), W("泡烂", -2.0f, SPILL, 0, 0), W("渗", -1.2f, SPILL, 0, 0),
	W("渗出", -1.8f, SPILL, 0, 0), W("漏出来", -2.0f, SPILL, 0, 0), W("洒出来", -2.4f, SPILL, 0, 0),
	W("撒出来", -2.2f, SPILL, 0, 0), W("漏", -1.4f, SPILL, 0, 0), W("盖子", 0.0f, 0, 0, SPILL),
	W("封好", 0.8f, 0, SPILL, 0), W("盖严", 0.8f, 0, SPILL, 0), W("盖好", 0.8f, 0, SPILL, 0),
	W("变形", -1.4f, SPILL, 0, 0), W("挤烂", -2.0f, SPILL, 0, 0), W("压烂", -2.0f, SPILL, 0, 0),
	W("打翻", -2.2f, SPILL, 0, 0), W("翻了", -1.8f, SPILL, 0, 0), W("一袋子", -0.4f, SPILL, 0, 0),
	W("一地", -0.4f, SPILL, 0, 0),
	W("soaked", -1.6f, SPILL, 0, 0), W("smashed", -1.8f, SPILL, 0, 0), W("went everywhere", -1.8f, SPILL, 0, 0),
	W("everywhere", -0.6f, 0, 0, SPILL), W("all over", -0.6f, 0, 0, SPILL), W("lid", 0.0f, 0, 0, SPILL),
	W("container", 0.0f, 0, 0, SPILL), W("leaky", -1.8f, SPILL, 0, 0), W("leaks", -1.8f, SPILL, 0, 0),
	W("dripping", -1.4f, SPILL, 0, 0), W("damaged", -1.6f, SPILL, 0, 0), W("dented", -1.4f, SPILL, 0, 0),
	W("squished", -1.8f, SPILL, 0, 0), W("spills", -1.6f, SPILL, 0, 0), W("spilling", -1.8f, SPILL, 0, 0),
	/* wrong item */
	W("不是我点的", -2.4f, WRONG, 0, 0), W("不是我要的", -2.4f, WRONG, 0, 0), W("跟我点的", 0.0f, 0, 0, WRONG),
	W("和我点的", 0.0f, 0, 0, WRONG), W("对不上", -1.8f, WRONG, 0, 0), W("不一样", -0.6f, 0, 0, 0),
	W("送来的却是", -2.2f, WRONG, 0, 0), W("来的却是", -2.2f, WRONG, 0, 0), W("给的却是", -2.2f, WRONG, 0, 0),
	W("送成", -1.8f, WRONG, 0, 0), W("串单", -2.2f, WRONG, 0, 0), W("错单", -2.2f, WRONG, 0, 0),
	W("照做", 1.4f, 0, 0, 0), W("按备注", 1.2f, 0, WRONG, 0), W("香菜", 0.0f, 0, 0, 0),
	W("someone else", -2.4f, WRONG, 0, 0), W("instead", -1.0f, WRONG, 0, 0), W("mixed up", -2.0f, WRONG, 0, 0),
	W("mix up", -2.0f, WRONG, 0, 0), W("mixup", -2.0f, WRONG, 0, 0), W("ordered", 0.0f, 0, WRONG, 0),
	WF("asked for", -0.4f, 0, 0, WRONG, F_CARRY), W("substituted", -1.2f, WRONG, 0, 0), W("swapped", -1.2f, WRONG, 0, 0),
	/* missing item */
	WF("少", -0.8f, MISS, 0, 0, F_COUNT), WF("只有", 0.0f, 0, 0, 0, F_COUNT), W("多少", 0.0f, 0, 0, 0),
	W("至少", 0.0f, 0, 0, 0), W("减少", 0.0f, 0, 0, 0), W("少许", 0.0f, 0, 0, 0), W("少量", 0.0f, 0, 0, 0),
	W("没加", -1.6f, MISS, 0, 0), W("不见了", -1.6f, MISS, 0, 0), W("忘放", -1.8f, MISS, 0, 0),
	W("忘带", -1.8f, MISS, 0, 0), W("忘给", -1.8f, MISS, 0, 0), W("只送来", -1.4f, MISS, 0, 0),
	W("只送了", -1.4f, MISS, 0, 0), W("只给了", -1.4f, MISS, 0, 0), W("只来了", -1.4f, MISS, 0, 0),
	W("缺了", -1.4f, MISS, 0, 0), W("缺少", -1.4f, MISS, 0, 0), W("漏掉", -1.8f, MISS, 0, 0),
	W("漏放", -2.0f, MISS, 0, 0), W("赠品", 0.0f, 0, MISS, 0), W("薯条", 0.0f, 0, MISS, 0),
	W("鸡腿", 0.0f, 0, MISS, 0), W("鸡翅", 0.0f, 0, MISS, 0), W("可乐", 0.0f, 0, MISS, 0),
	W("奶茶", 0.0f, 0, MISS, 0), W("酱料", 0.0f, 0, MISS, 0), W("酱料包", 0.0f, 0, MISS, 0),
	W("吸管", 0.0f, 0, MISS, 0), W("小菜", 0.0f, 0, MISS, 0), W("发票", 0.0f, 0, MISS, 0),
	W("incomplete", -1.8f, MISS, 0, 0), W("half my", -1.0f, MISS, 0, 0), W("only got", -1.2f, MISS, 0, 0),
	W("where is", -1.4f, MISS, 0, 0), W("where are", -1.4f, MISS, 0, 0), W("rice", 0.0f, 0, MISS, 0), W("fries", 0.0f, 0, MISS, 0),
	W("dessert", 0.0f, 0, MISS, 0),
	W("fork", 0.0f, 0, MISS, 0), W("spoon", 0.0f, 0, MISS, 0), W("cutlery", 0.0f, 0, MISS, 0),
	W("straw", 0.0f, 0, MISS, 0), W("ketchup", 0.0f, 0, MISS, 0), W("soda", 0.0f, 0, MISS, 0),
	W("bread", 0.0f, 0, MISS, 0), W("dip", 0.0f, 0, MISS, 0),
	/* the rider */
	W("说话冲", -2.0f, RIDER, 0, 0), W("冲", -1.0f, 0, 0, 0), W("说话", 0.0f, 0, 0, RIDER),
	W("挂我电话", -2.2f, RIDER, 0, 0), W("挂了电话", -1.8f, RIDER, 0, 0), W("下楼拿", -1.6f, RIDER, 0, 0),
	W("自己下楼", -1.6f, RIDER, 0, 0), W("让我下楼", -1.6f, RIDER, 0, 0), W("爱答不理", -2.2f, RIDER, 0, 0),
	W("爱理不理", -2.2f, RIDER, 0, 0), W("骂骂咧咧", -2.4f, RIDER, 0, 0), W("随手一扔", -2.0f, RIDER, 0, 0),
	W("乱扔", -2.0f, RIDER, 0, 0), W("扔在", -1.4f, RIDER, 0, 0), W("一扔", -1.4f, RIDER, 0, 0),
	W("抱怨", -1.4f, 0, 0, 0), W("很横", -1.8f, RIDER, 0, 0), W("不客气", -1.6f, RIDER, 0, 0),
	W("威胁", -2.2f, RIDER, 0, 0), W("服务态度", 0.0f, 0, 0, RIDER),
	W("hung up", -2.0f, RIDER, 0, 0), W("threw", -1.2f, RIDER, 0, 0), W("refused", -1.4f, 0, 0, 0),
	W("unprofessional", -2.0f, RIDER, 0, 0), W("aggressive", -2.0f, RIDER, 0, 0), W("swore", -2.2f, RIDER, 0, 0),
	W("cursed", -2.0f, RIDER, 0, 0), W("bad attitude", -2.2f, RIDER, 0, 0), W("delivery guy", 0.0f, 0, 0, RIDER),
	W("delivery person", 0.0f, 0, 0, RIDER), W("kind", 1.4f, 0, 0, 0), DEG("kind of", 0.6f),
	W("patient", 1.4f, 0, 0, 0),
	/* taste */
	W("咸死", -2.2f, TASTE, 0, 0), W("要命", -1.8f, 0, 0, 0), W("发腻", -1.8f, TASTE, 0, 0),
	W("腻", -1.2f, TASTE, 0, 0), W("太甜", -1.6f, TASTE, 0, 0), W("齁甜", -2.0f, TASTE, 0, 0),
	W("太辣", -1.4f, TASTE, 0, 0), W("辣死", -1.8f, TASTE, 0, 0), W("没法入口", -2.4f, TASTE, 0, 0),
	W("难以入口", -2.4f, TASTE, 0, 0), W("没法吃", -2.2f, TASTE, 0, 0), W("嚼不动", -2.0f, TASTE, 0, 0),
	W("咬不动", -2.0f, TASTE, 0, 0), W("坨了", -1.8f, TASTE, 0, 0), W("坨", -1.2f, TASTE, 0, 0),
	W("泡胀", -1.6f, TASTE, 0, 0), W("软塌塌", -1.6f, TASTE, 0, 0), W("脆", 1.0f, 0, TASTE, 0),
	W("柴", -1.4f, TASTE, 0, 0), W("发柴", -1.6f, TASTE, 0, 0), W("酸味", -1.2f, TASTE, 0, 0),
	W("差远了", -2.0f, 0, 0, 0), W("没滋没味", -2.2f, TASTE, 0, 0), W("寡淡", -1.8f, TASTE, 0, 0),
	W("tasted", 0.0f, 0, 0, TASTE), W("tasting", 0.0f, 0, 0, TASTE), W("tasted off", -2.0f, TASTE, 0, 0),
	W("tastes off", -2.0f, TASTE, 0, 0), W("dry", -1.0f, TASTE, 0, 0), W("chewy", -1.2f, TASTE, 0, 0),
	W("rubbery", -1.6f, TASTE, 0, 0), W("too sweet", -1.8f, TASTE, 0, 0), W("too spicy", -1.4f, TASTE, 0, 0),
	W("too oily", -1.6f, TASTE, 0, 0), W("sour", -0.8f, TASTE, 0, 0), W("crispy", 1.4f, 0, TASTE, 0),
	W("flavorless", -2.0f, TASTE, 0, 0), W("watery", -1.4f, TASTE, 0, 0),
	/* portion */
	W("就几", -1.2f, PORT, 0, 0), W("只有几", -1.4f, PORT, 0, 0), W("全是配菜", -1.6f, PORT, 0, 0),
	W("塞牙缝", -2.2f, PORT, 0, 0), W("少得", -1.4f, PORT, 0, 0), W("越来越少", -1.8f, PORT, 0, 0),
	W("两口", -0.6f, 0, 0, PORT), W("几口", -0.6f, 0, 0, PORT), W("就没了", -1.4f, PORT, 0, 0),
	W("这么一点", -1.4f, PORT, 0, 0), W("这么点", -1.4f, PORT, 0, 0), W("就这点", -1.4f, PORT, 0, 0),
	W("一丁点", -1.6f, PORT, 0, 0), W("小份", 0.0f, 0, 0, 0),
	W("too small", -1.8f, PORT, 0, 0), W("small", -0.3f, 0, 0, PORT), W("not small", 1.2f, 0, 0, 0), W("barely enough", -1.6f, PORT, 0, 0),
	W("enough", 0.8f, 0, PORT, 0), W("hardly any", -1.6f, PORT, 0, 0), W("shrunk", -1.6f, PORT, 0, 0),
	W("shrank", -1.6f, PORT, 0, 0), W("still hungry", -1.6f, PORT, 0, 0), W("half empty", -1.8f, PORT, 0, 0),
	W("serving", 0.0f, 0, 0, PORT), W("servings", 0.0f, 0, 0, PORT), W("small serving", -2.0f, PORT, 0, 0),
	W("huge", 1.2f, 0, PORT, 0),
	/* price */
	W("抢钱", -2.4f, PRICE, 0, 0), W("虚高", -2.0f, PRICE, 0, 0), W("离谱", -2.0f, 0, 0, 0),
	W("低", -0.6f, 0, 0, 0), W("套路", -1.8f, PRICE, 0, 0), W("就这", -1.4f, 0, 0, 0),
	W("花了", 0.0f, 0, 0, PRICE), W("块钱", -0.2f, 0, 0, PRICE), W("收费", 0.0f, 0, 0, PRICE),
	W("加价", -1.4f, PRICE, 0, 0), W("宰人", -2.4f, PRICE, 0, 0),
	W("rip off", -2.4f, PRICE, 0, 0), W("outrageous", -2.0f, 0, 0, 0), W("went up", -1.0f, 0, 0, 0),
	W("value", 0.4f, 0, PRICE, PRICE), W("premium prices", -1.4f, PRICE, 0, 0),
	W("fair price", 1.6f, 0, PRICE, 0),
	/* hygiene */
	W("肚子疼", -2.4f, HYG, 0, 0), W("肚子痛", -2.4f, HYG, 0, 0), W("胃疼", -1.6f, 0, 0, 0),
	W("上吐下泻", -3.0f, HYG, 0, 0), W("呕吐", -2.4f, HYG, 0, 0), W("拉稀", -2.6f, HYG, 0, 0),
	W("塑料", -1.6f, HYG, 0, 0), W("钢丝", -2.2f, HYG, 0, 0), W("钢丝球", -2.4f, HYG, 0, 0),
	W("泥沙", -2.2f, HYG, 0, 0), W("沙子", -2.0f, HYG, 0, 0), W("石子", -2.0f, HYG, 0, 0),
	W("烂了", -1.8f, HYG, 0, 0), W("发黄", -1.2f, HYG, 0, 0), W("带血", -2.0f, HYG, 0, 0),
	W("脏兮兮", -2.2f, HYG, 0, 0), W("馊味", -2.6f, HYG, 0, 0), W("异味", -2.0f, HYG, 0, 0),
	W("smelled off", -2.0f, HYG, 0, 0), W("smells off", -2.0f, HYG, 0, 0), W("smelled bad", -2.0f, HYG, 0, 0),
	W("was raw", -1.8f, HYG, 0, 0), W("raw inside", -1.8f, HYG, 0, 0), W("raw in", -1.8f, HYG, 0, 0), W("plastic", -1.6f, HYG, 0, 0), W("mouldy", -2.6f, HYG, 0, 0),
	/* general */
	W("disappoints", -2.0f, 0, 0, 0), W("favourite", 2.0f, 0, 0, 0), W("remembered", 1.0f, 0, 0, 0),
	W("还送了", 1.0f, 0, 0, 0), W("都给了", 0.8f, 0, 0, 0), W("冒雨", 1.6f, 0, 0, 0),
	W("冒着大雨", 1.6f, 0, 0, 0), W("冒着雨", 1.6f, 0, 0, 0), W("一半", 0.0f, 0, 0, 0),
	W("一些", 0.0f, 0, 0, 0), W("泡烂了", -2.0f, SPILL, 0, 0), W("嫌", -1.0f, 0, 0, 0),
	W("很少", -0.8f, 0, 0, PORT), W("好少", -1.6f, PORT, 0, 0), WF("never arrived", -2.0f, LATE, 0, 0, F_ARRIVE),
	WF("never came", -2.0f, LATE, 0, 0, F_ARRIVE), W("full", 1.0f, 0, PORT, 0), W("full of", 0.0f, 0, 0, 0),
	W("this time", 0.0f, 0, 0, 0),
	WF("没送来", -1.6f, LATE, 0, 0, F_ARRIVE), WF("没来", -1.2f, LATE, 0, 0, F_ARRIVE),
	W("个钟", -0.8f, 0, 0, LATE), W("个钟头", -0.8f, 0, 0, LATE), W("才出现", -1.6f, LATE, 0, 0),
	W("超出", -1.2f, LATE, 0, 0), W("超出预期", 2.0f, 0, 0, 0), W("冰了", -1.8f, COLD, 0, 0),
	W("温度", 0.6f, 0, COLD, 0), W("漏在", -2.6f, SPILL, 0, 0), W("洒在", -2.6f, SPILL, 0, 0),
	W("撒在", -2.6f, SPILL, 0, 0), WF("点的是", -0.2f, 0, 0, WRONG, F_CARRY),
	WF("说了不要", -0.4f, 0, 0, WRONG, F_CARRY), W("给我的是", -1.2f, 0, 0, WRONG),
	W("送来的是", -1.2f, 0, 0, WRONG), W("送来是", -1.2f, 0, 0, WRONG), W("给的是", -1.2f, 0, 0, WRONG),
	W("搞混", -2.0f, WRONG, 0, 0), W("弄混", -2.0f, WRONG, 0, 0), W("只到了", -1.4f, MISS, 0, 0),
	W("配送小哥", 0.5f, 0, 0, RIDER), W("送餐小哥", 0.5f, 0, 0, RIDER), W("骑手小哥", 0.5f, 0, 0, RIDER),
	W("太烂了", -1.6f, TASTE, 0, 0), W("煮得太烂", -1.8f, TASTE, 0, 0), W("小了", -1.2f, 0, 0, PORT),
	W("变小", -1.2f, PORT, 0, 0), W("都不够", -1.6f, 0, 0, PORT), W("也不够", -1.4f, 0, 0, PORT),
	W("贵了", -1.6f, PRICE, 0, 0), W("贵了好多", -2.0f, PRICE, 0, 0), W("贵了很多", -2.0f, PRICE, 0, 0),
	W("肚子", -0.4f, 0, 0, HYG), W("霉味", -2.6f, HYG, 0, 0), W("霉", -2.0f, HYG, 0, 0),
	W("带垃圾", 1.0f, 0, 0, 0), W("垃圾带下去", 1.2f, 0, 0, 0), W("帮忙", 1.2f, 0, 0, 0),
	W("饭菜", 0.0f, 0, 0, TASTE), W("my order", 0.0f, 0, WRONG, 0), W("unfriendly", -2.0f, RIDER, 0, 0),
	W("joke", -1.6f, 0, 0, 0), W("bucks", -0.2f, 0, 0, PRICE), W("dollars", -0.2f, 0, 0, PRICE),
	W("pink inside", -1.8f, HYG, 0, 0), W("pink", -0.4f, 0, 0, HYG), W("别人", 0.0f, 0, 0, 0), W("别的", 0.0f, 0, 0, 0),
	W("别家", 0.0f, 0, 0, 0), W("小了很多", -1.8f, 0, 0, PORT),
	W("这速度", -0.6f, 0, 0, LATE), W("半天不动", -1.8f, LATE, 0, 0), W("停在原地", -1.2f, LATE, 0, 0),
	W("耽误", -1.4f, LATE, 0, 0), W("压坏了", -2.0f, SPILL, 0, 0), W("挤到", -1.0f, SPILL, 0, 0),
	W("少糖", 0.0f, 0, 0, 0), W("少冰", 0.0f, 0, 0, 0), W("少辣", 0.0f, 0, 0, 0), W("微辣", 0.0f, 0, 0, 0),
	W("做成了", -1.2f, WRONG, 0, 0), WF("送", 0.0f, 0, LATE, 0, F_ARRIVE), W("说好的", -0.6f, 0, 0, 0),
	W("小吃", 0.0f, 0, MISS, 0), W("写错", -1.0f, 0, 0, 0),
	W("写错了", -1.0f, 0, 0, 0), W("语气", 0.0f, 0, 0, RIDER), W("口气", 0.0f, 0, 0, RIDER),
	W("酸的", -1.6f, TASTE, 0, 0), W("空的", -1.2f, PORT, 0, 0), W("缩了", -1.6f, PORT, 0, 0),
	W("涨了", -1.4f, PRICE, 0, 0), W("还是那样", -1.0f, 0, 0, 0), W("一言难尽", -2.0f, 0, 0, 0),
	W("软硬", 0.0f, 0, 0, 0), W("软硬适中", 1.6f, 0, 0, 0), W("刚好", 1.0f, 0, 0, 0),
	W("too long", -1.8f, LATE, 0, 0), W("so long", -1.2f, LATE, 0, 0), W("for ages", -1.8f, LATE, 0, 0),
	W("stuck", -1.0f, LATE, 0, 0), W("hot enough", 1.2f, 0, COLD, 0), W("warm enough", 1.2f, 0, COLD, 0),
	W("tipped over", -1.8f, SPILL, 0, 0), W("slid", -1.2f, SPILL, 0, 0), W("somebody else", -2.4f, WRONG, 0, 0),
	WF("said no", -0.4f, 0, 0, WRONG, F_CARRY), WF("not in", -1.0f, 0, 0, 0, F_ARRIVE),
	W("arrogant", -2.0f, RIDER, 0, 0), W("disrespectful", -2.2f, RIDER, 0, 0), W("drenched", -1.2f, TASTE, 0, 0),
	W("too little", -1.8f, PORT, 0, 0), W("smaller", -0.6f, 0, 0, PORT), W("insect", -2.4f, HYG, 0, 0),
	W("insects", -2.4f, HYG, 0, 0), W("stomach", -0.4f, 0, 0, HYG), W("stomachache", -2.4f, HYG, 0, 0),
	W("stomach ache", -2.4f, HYG, 0, 0), W("hurt", -1.2f, 0, 0, 0),
	W("没动静", -1.8f, LATE, 0, 0), W("太长", -1.2f, 0, 0, 0), W("时间太长", -1.8f, LATE, 0, 0),
	W("太晚", -2.0f, LATE, 0, 0), W("很晚", -1.6f, LATE, 0, 0), W("好晚", -1.6f, LATE, 0, 0),
	W("换成了", -1.4f, WRONG, 0, 0), W("装反", -2.0f, WRONG, 0, 0), W("给了别人", -1.6f, WRONG, 0, 0),
	W("汤", 0.0f, 0, MISS, 0), W("附赠", 0.0f, 0, MISS, 0), W("蛋挞", 0.0f, 0, MISS, 0),
	W("阴阳怪气", -2.2f, RIDER, 0, 0), W("碱味", -1.8f, TASTE, 0, 0), W("一股", -0.8f, 0, 0, TASTE),
	W("太软", -1.4f, TASTE, 0, 0), W("没嚼劲", -1.6f, TASTE, 0, 0), W("嚼劲", 1.0f, 0, TASTE, 0),
	W("半盒", -1.0f, PORT, 0, 0), W("半碗", -1.0f, PORT, 0, 0), W("那么几", -1.2f, PORT, 0, 0),
	W("不划算", -2.0f, PRICE, 0, 0), W("真敢要", -1.6f, PRICE, 0, 0), W("生的", -1.2f, HYG, 0, 0),
	W("是生的", -2.0f, HYG, 0, 0), W("变味", -2.2f, HYG, 0, 0), W("踩雷", -2.2f, 0, 0, 0),
	W("finally", -0.4f, 0, 0, LATE), W("different order", -1.8f, WRONG, 0, 0), W("short", -0.6f, 0, 0, MISS),
	W("included", 0.0f, 0, MISS, 0), W("include", 0.0f, 0, MISS, 0), W("salt", -0.2f, 0, 0, TASTE),
	W("too much", -1.0f, 0, 0, 0), W("empty", -1.0f, 0, 0, PORT), W("insane", -1.8f, 0, 0, 0),
	W("不准时", -2.0f, LATE, 0, 0), W("绕路", -1.4f, LATE, 0, 0), W("绕了", -1.2f, LATE, 0, 0),
	W("变成了", -0.8f, 0, 0, WRONG), W("白写", -1.6f, WRONG, 0, 0), W("别人的外卖", -2.2f, WRONG, 0, 0),
	W("别人的餐", -2.2f, WRONG, 0, 0), WF("落了", -1.2f, MISS, 0, 0, F_COUNT), W("软趴趴", -1.6f, TASTE, 0, 0),
	W("没劲道", -1.6f, TASTE, 0, 0), W("劲道", 1.2f, 0, TASTE, 0), W("勾兑", -1.8f, TASTE, 0, 0),
	W("菜少", -1.4f, PORT, 0, 0), W("一小碗", -1.0f, PORT, 0, 0), W("一小份", -1.0f, PORT, 0, 0),
	W("一小盒", -1.0f, PORT, 0, 0), W("太高", -1.4f, 0, 0, 0), W("吃不起", -1.6f, PRICE, 0, 0),
	W("抽成", -1.0f, PRICE, 0, 0), W("一涨再涨", -1.8f, PRICE, 0, 0), W("原价", -0.4f, 0, 0, PRICE),
	W("优惠券", 0.0f, 0, 0, PRICE), W("吃了个寂寞", -2.0f, 0, 0, 0), W("撒", -1.6f, SPILL, 0, 0),
	W("wrong address", -1.6f, LATE, 0, 0), W("exploded", -1.8f, SPILL, 0, 0),
	W("different meal", -1.8f, WRONG, 0, 0), W("different dish", -1.8f, WRONG, 0, 0),
	WF("not there", -1.2f, 0, 0, 0, F_ARRIVE), W("half of", -0.4f, 0, 0, MISS), W("skimped", -1.8f, PORT, 0, 0),
	W("skimp", -1.6f, PORT, 0, 0), W("fees", -0.3f, 0, 0, PRICE),
	W("速度感人", -2.0f, LATE, 0, 0), W("不是我的", -1.8f, WRONG, 0, 0), W("少东西", -1.8f, MISS, 0, 0),
	W("太少了", -2.0f, PORT, 0, 0), W("就一点点", -1.6f, PORT, 0, 0), W("就一点", -1.4f, PORT, 0, 0),
	W("my food", 0.0f, 0, WRONG, 0), W("where my", -1.4f, MISS, 0, 0),	/* where's my: 's is dropped */
	W("jerk", -2.0f, 0, 0, 0), W("yum", 2.0f, 0, 0, 0),

	/* emoji, not flipped by negation */
	EMO("👍", 2.2f), EMO("👎", -2.4f), EMO("😡", -2.6f), EMO("😠", -2.4f),
	EMO("🤬", -2.8f), EMO("😤", -1.8f), EMO("😞", -1.8f), EMO("😢", -1.6f),
	EMO("😭", -1.4f), EMO("💩", -2.6f), EMO("🤮", -2.8f), EMO("🤢", -2.4f),
	EMO("😒", -1.6f), EMO("🙄", -1.4f), EMO("😑", -1.0f), EMO("😓", -1.0f),
	EMO("😊", 1.8f), EMO("😀", 1.6f), EMO("😃", 1.6f), EMO("😄", 1.6f),
	EMO("😁", 1.6f), EMO("🙂", 1.0f), EMO("😋", 2.2f), EMO("😍", 2.4f),
	EMO("🥰", 2.4f), EMO("❤", 2.0f), EMO("💕", 2.0f), EMO("👌", 1.8f),
	EMO("💯", 2.0f), EMO("🌟", 1.4f), EMO("⭐", 0.8f), EMO("🎉", 1.4f),
	EMO("🤤", 1.8f), EMO("😂", 0.4f), EMO("🤣", 0.4f), EMO("👏", 1.8f),
	EMO("💔", -1.8f), EMO("😷", -1.2f), EMO("😫", -1.6f), EMO("😩", -1.6f),
	/* ASCII emoticons, matched by scan_emoticon() */
	EMO(":)", 1.6f), EMO(":-)", 1.6f), EMO(":d", 1.8f), EMO(":-d", 1.8f),
	EMO(";)", 1.2f), EMO(";-)", 1.2f), EMO("=)", 1.4f), EMO(":p", 0.8f),
	EMO("^_^", 1.6f), EMO("^^", 1.4f), EMO("^o^", 1.6f), EMO("<3", 1.8f),
	EMO(":(", -1.8f), EMO(":-(", -1.8f), EMO(":'(", -1.8f), EMO("=(", -1.6f),
	EMO(":/", -1.0f), EMO(":-/", -1.0f), EMO(":@", -2.0f), EMO(":|", -0.6f),
};

#undef W
#undef WF
#undef WN
#undef NEG
#undef NEGD
#undef EXPECT
#undef DEG
#undef CONTRAST
#undef CONCESS
#undef STOP
#undef STOPA
#undef EMO

/* ---------------------------------------------------------------------- */
/* UTF-8 */

/*
 * Decode one code point at s[0..n) of input already known to be valid;
 * returns its byte length.
 */
static int
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];

	if (c < 0x80 || n < 2)
	{
		*cp = c;
		return 1;
	}
	if (c < 0xE0)
	{
		*cp = ((uint32_t) (c & 0x1F) << 6) | (s[1] & 0x3F);
		return 2;
	}
	if (c < 0xF0 || n < 4)
	{
		if (n < 3)
		{
			*cp = c;
			return 1;
		}
		*cp = ((uint32_t) (c & 0x0F) << 12) | ((uint32_t) (s[1] & 0x3F) << 6) |
			(s[2] & 0x3F);
		return 3;
	}
	*cp = ((uint32_t) (c & 0x07) << 18) | ((uint32_t) (s[1] & 0x3F) << 12) |
		((uint32_t) (s[2] & 0x3F) << 6) | (s[3] & 0x3F);
	return 4;
}

int
sent_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *) str;
	size_t		i = 0;

	while (i < len)
	{
		unsigned char c = s[i];

		if (c < 0x80)
		{
			/* NUL is valid UTF-8 but never in a PostgreSQL text; refuse it */
			if (c == 0)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
		{
			if (i + 1 >= len || (s[i + 1] & 0xC0) != 0x80)
				return 0;
			i += 2;
			continue;
		}
		if (c >= 0xE0 && c <= 0xEF)
		{
			unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
			unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;

			if (i + 2 >= len || s[i + 1] < lo || s[i + 1] > hi ||
				(s[i + 2] & 0xC0) != 0x80)
				return 0;
			i += 3;
			continue;
		}
		if (c >= 0xF0 && c <= 0xF4)
		{
			unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
			unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;

			if (i + 3 >= len || s[i + 1] < lo || s[i + 1] > hi ||
				(s[i + 2] & 0xC0) != 0x80 || (s[i + 3] & 0xC0) != 0x80)
				return 0;
			i += 4;
			continue;
		}
		return 0;
	}
	return 1;
}

static int
is_cjk(uint32_t cp)
{
	return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
		(cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x20000 && cp <= 0x3134F);
}

/* pictographs and symbols looked up one code point at a time */
static int
is_symbol(uint32_t cp)
{
	return (cp >= 0x2190 && cp <= 0x2BFF) || (cp >= 0x1F000 && cp <= 0x1FAFF) ||
		(cp >= 0x3297 && cp <= 0x3299);
}

/* Latin letters outside ASCII, kept inside English-like words */
static int
is_latin_letter(uint32_t cp)
{
	return cp >= 0xC0 && cp <= 0x24F && cp != 0xD7 && cp != 0xF7;
}

/* ---------------------------------------------------------------------- */
/* hash table */

static uint32_t
hash_key(int ns, const char *k, size_t len)
{
	uint32_t	h = 2166136261u ^ (uint32_t) (ns * 0x9E3779B1u);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) k[i];
		h *= 16777619u;
	}
	h ^= h >> 15;
	return h;
}

static const sent_entry *
lookup(const sent_model *m, int ns, const char *k, size_t len)
{
	uint32_t	h,
				mask,
				i;

	if (m->slots == NULL || len == 0 || len > SENT_MAX_KEY_BYTES)
		return NULL;
	h = hash_key(ns, k, len);
	mask = m->nslots - 1;
	for (i = h & mask;; i = (i + 1) & mask)
	{
		const sent_entry *e = &m->slots[i];

		if (e->key == NULL)
			return NULL;
		if (e->hash == h && e->ns == ns && e->key_len == len &&
			memcmp(e->key, k, len) == 0)
			return e;
	}
}

static char *
arena_copy(sent_model *m, const char *k, size_t len)
{
	arena_hdr  *blk = (arena_hdr *) m->arena;
	char	   *p;

	if (blk == NULL || blk->used + len > ARENA_BLOCK)
	{
		arena_hdr  *nb = m->allocator.alloc(m->allocator.ctx,
											sizeof(arena_hdr) + ARENA_BLOCK);

		if (nb == NULL)
			return NULL;
		nb->next = blk;
		nb->used = 0;
		m->arena = nb;
		blk = nb;
	}
	p = (char *) (blk + 1) + blk->used;
	memcpy(p, k, len);
	blk->used += len;
	return p;
}

static int
grow(sent_model *m)
{
	uint32_t	newn = m->nslots ? m->nslots * 2 : 1024;
	sent_entry *ns;
	uint32_t	i;

	ns = m->allocator.alloc(m->allocator.ctx, sizeof(sent_entry) * newn);
	if (ns == NULL)
		return SENT_ERR_NOMEM;
	memset(ns, 0, sizeof(sent_entry) * newn);
	for (i = 0; i < m->nslots; i++)
	{
		sent_entry *e = &m->slots[i];
		uint32_t	j;

		if (e->key == NULL)
			continue;
		for (j = e->hash & (newn - 1); ns[j].key != NULL; j = (j + 1) & (newn - 1))
			;
		ns[j] = *e;
	}
	if (m->slots && m->allocator.release)
		m->allocator.release(m->allocator.ctx, m->slots);
	m->slots = ns;
	m->nslots = newn;
	return SENT_OK;
}

/* find or create the entry for a key; NULL on allocation failure */
static sent_entry *
upsert(sent_model *m, int ns, const char *k, size_t len)
{
	uint32_t	h,
				mask,
				i;
	sent_entry *e;

	if ((m->nused + 1) * 2 > m->nslots && grow(m) != SENT_OK)
		return NULL;
	h = hash_key(ns, k, len);
	mask = m->nslots - 1;
	for (i = h & mask;; i = (i + 1) & mask)
	{
		e = &m->slots[i];
		if (e->key == NULL)
			break;
		if (e->hash == h && e->ns == ns && e->key_len == len &&
			memcmp(e->key, k, len) == 0)
			return e;
	}
	e->key = arena_copy(m, k, len);
	if (e->key == NULL)
		return NULL;
	e->hash = h;
	e->ns = (uint8_t) ns;
	e->key_len = (uint8_t) len;
	e->deg = 1.0f;
	m->nused++;
	return e;
}

/* number of code points in a valid key, or -1 if it is not a valid key */
static int
key_cps(const char *k, size_t len)
{
	size_t		i;
	int			n = 0;

	if (len == 0 || len > SENT_MAX_KEY_BYTES || !sent_utf8_valid(k, len))
		return -1;
	for (i = 0; i < len; i++)
		if (((unsigned char) k[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/*
 * Register a word for maximum matching: mark the entry of its first code
 * point with the word's length so the scanner knows how far to look.
 */
static int
register_word(sent_model *m, const char *k, size_t len)
{
	uint32_t	cp;
	int			first,
				ncp = key_cps(k, len);
	sent_entry *e;

	if (ncp < 2)
		return SENT_OK;
	first = utf8_decode((const unsigned char *) k, len, &cp);
	if (!is_cjk(cp))
		return SENT_OK;
	if (ncp > SENT_MAX_WORD_CP)
		return SENT_OK;			/* kept, but never matched in Chinese text */
	e = upsert(m, NS_WORD, k, (size_t) first);
	if (e == NULL)
		return SENT_ERR_NOMEM;
	e->lens |= (uint16_t) (1u << ncp);
	if (ncp >= 3)
	{
		/* and on its first two code points, which most lookups stop at */
		uint32_t	cp2;
		int			second = utf8_decode((const unsigned char *) k + first,
										 len - (size_t) first, &cp2);

		e = upsert(m, NS_WORD, k, (size_t) (first + second));
		if (e == NULL)
			return SENT_ERR_NOMEM;
		e->lens |= (uint16_t) (1u << ncp);
	}
	return SENT_OK;
}

int
sent_model_init(sent_model *m, const sent_allocator *a, int builtin)
{
	size_t		i;

	memset(m, 0, sizeof(*m));
	m->allocator = *a;
	m->learned_scale = 1.0f;
	m->scale = (float) SCORE_SCALE;
	if (grow(m) != SENT_OK)
		return SENT_ERR_NOMEM;
	if (!builtin)
		return SENT_OK;
	for (i = 0; i < sizeof(builtin_words) / sizeof(builtin_words[0]); i++)
	{
		const builtin_word *b = &builtin_words[i];
		size_t		len = strlen(b->key);
		sent_entry *e = upsert(m, NS_WORD, b->key, len);

		if (e == NULL)
			return SENT_ERR_NOMEM;
		e->kind = b->kind;
		e->lex = b->lex;
		e->deg = b->deg;
		e->tp = b->tp;
		e->tn = b->tn;
		e->ta = b->ta;
		e->fl = b->fl;
		if (register_word(m, b->key, len) != SENT_OK)
			return SENT_ERR_NOMEM;
	}
	return SENT_OK;
}

void
sent_model_free(sent_model *m)
{
	arena_hdr  *blk = (arena_hdr *) m->arena;

	if (m->allocator.release)
	{
		while (blk)
		{
			arena_hdr  *next = blk->next;

			m->allocator.release(m->allocator.ctx, blk);
			blk = next;
		}
		if (m->slots)
			m->allocator.release(m->allocator.ctx, m->slots);
	}
	m->slots = NULL;
	m->arena = NULL;
	m->nslots = m->nused = 0;
}

int
sent_model_set_lexicon(sent_model *m, const char *word, size_t len, double weight)
{
	sent_entry *e;

	if (key_cps(word, len) < 1 || word[0] == '!' || word[0] == '#')
		return SENT_ERR_KEY;
	e = upsert(m, NS_WORD, word, len);
	if (e == NULL)
		return SENT_ERR_NOMEM;
	e->kind |= K_WORD;
	e->lex = (float) weight;
	return register_word(m, word, len);
}

/*
 * Split a feature name into its prefixes and its key: an optional "!"
 * (seen inside a negation), then an optional "#" (a Chinese bigram), then
 * the key, which must be 1 to SENT_MAX_KEY_BYTES bytes of valid UTF-8 and
 * must not itself start with "!" or "#".  On success *f and *len describe
 * the key and 1 is returned; otherwise 0.  The one rule for feature names:
 * the loader (sent_model_set_weight) and the CHECK of sentiment_weights
 * (sent_weight_key_ok) both apply it.
 */
static int
weight_key(const char **f, size_t *len, int *negated, int *ns)
{
	*negated = 0;
	*ns = NS_WORD;
	if (*len > 0 && (*f)[0] == '!')
	{
		*negated = 1;
		(*f)++;
		(*len)--;
	}
	if (*len > 0 && (*f)[0] == '#')
	{
		*ns = NS_BIGRAM;
		(*f)++;
		(*len)--;
	}
	return key_cps(*f, *len) >= 1 && (*f)[0] != '!' && (*f)[0] != '#';
}

int
sent_weight_key_ok(const char *f, size_t len)
{
	int			negated,
				ns;

	return weight_key(&f, &len, &negated, &ns);
}

int
sent_model_set_weight(sent_model *m, const char *f, size_t len, double weight)
{
	int			negated,
				ns;
	sent_entry *e;

	if (!weight_key(&f, &len, &negated, &ns))
		return SENT_ERR_KEY;
	e = upsert(m, ns, f, len);
	if (e == NULL)
		return SENT_ERR_NOMEM;
	if (negated)
	{
		e->wn = (float) weight;
		e->has_wn = 1;
	}
	else
	{
		e->w = (float) weight;
		e->has_w = 1;
	}
	return SENT_OK;
}

const char *
sent_builtin_word(size_t i)
{
	if (i >= sizeof(builtin_words) / sizeof(builtin_words[0]))
		return NULL;
	return builtin_words[i].key;
}

int
sent_learned_weight(const char *f, size_t len, double log_odds, double *weight)
{
	size_t		i = 0;
	double		w;

	if (!(fabs(log_odds) >= SENT_TRAIN_MIN_LOG_ODDS))
		return 0;
	w = fmax(-SENT_TRAIN_MAX_LOG_ODDS, fmin(SENT_TRAIN_MAX_LOG_ODDS, log_odds));
	while (i < len && f[i] == '!')
		i++;
	*weight = w * (i < len && f[i] == '#' ? SENT_TRAIN_BIGRAM_SCALE : SENT_TRAIN_WORD_SCALE);
	return 1;
}

const char *
sent_topic_name(int i)
{
	if (i < 0 || i >= SENT_NTOPICS)
		return NULL;
	return topic_names[i];
}

/* ---------------------------------------------------------------------- */
/* scanning */

typedef struct scan_state
{
	const sent_model *m;
	sent_feature_cb cb;
	void	   *cbarg;
	int			stopped;

	double		total;			/* closed clauses */
	double		clause;			/* the open clause */
	double		free_value;		/* its tokens that name no topic */
	int			any;			/* some feature matched */
	int			excl;			/* ! seen at the end of the open clause */
	int			emph;			/* repeated character in the open clause */
	int			concess;		/* open clause began with a concession */
	int			expect;			/* open clause states a fear (以为, worried) */
	int			pending_close;	/* punctuation seen; close before next token */
	uint32_t	ctopics;		/* topics named by words of the open clause */
	uint32_t	anchors;		/* anchor topics of the open clause */
	uint32_t	anchors_after;	/* those after its last word naming a topic */
	uint32_t	weak;			/* anchors of function words (food) */
	uint32_t	carried;		/* anchors that last until the text ends */
	uint32_t	frames;			/* anchors of the open clause that always count */
	int			items;			/* the open clause named an item (可乐, fries) */
	int			arrive;			/* 1 没送来 (late or missing), 2 "not in" (missing) */
	uint32_t	anchored;		/* anchors of negative clauses so far */
	uint32_t	topics;
	double		feared;			/* score of fear clauses not yet answered */
	uint32_t	feared_topics;	/* and their topics */

	int			neg_left;		/* content tokens left in a negation scope */
	int			neg_on;			/* parity of negators in the scope */
	double		neg_damp;		/* 1, or less for soft negators */
	int			neg_used;		/* content tokens the scope has covered */
	int			neg_dangle;		/* a 没有 with nothing after it yet */
	const sent_entry *last;		/* last content word of the open clause */
	double		last_mult;		/* and the multiplier it was counted with */
	int			last_negated;
	uint32_t	count_topics;	/* 少了: topics if no count follows */
	int			count_on;		/* a count word waits for the next token */
	double		deg;			/* pending degree multiplier, 1 if none */
	int			last_cjk;		/* last token was Chinese */
	uint32_t	prev_cp;		/* for repeated-character emphasis */
	int			rep;
} scan_state;

/*
 * A count word (少, 少了, 漏了, 只有) followed by a count names a missing
 * item (少了一份米饭, 漏了两个), by a half or a little the portion (少了一半,
 * 只有半盒) unless it names a spill (漏了一半); followed by another word its
 * own topics stand (少了米饭, 漏了一袋子); closing its clause, a "less"
 * speaks of the portion (菜很少, 量越来越少了).  what says what followed.
 */
#define COUNT_END		0
#define COUNT_NUMBER	1
#define COUNT_HALF		2
#define COUNT_WORD		3
static void
count_resolve(scan_state *st, int what)
{
	uint32_t	t = st->count_topics;
	int			less = t == 0 || (t & SENT_TOPIC_MISSING_ITEM);	/* not 漏了 */

	if (!st->count_on)
		return;
	if (what == COUNT_NUMBER)
		t = SENT_TOPIC_MISSING_ITEM;
	else if (less && (what == COUNT_HALF || (what == COUNT_END && t != 0)))
		t = SENT_TOPIC_PORTION;
	st->ctopics |= t;
	if (t != 0)
		st->anchors_after = 0;
	st->count_on = 0;
	st->count_topics = 0;
}

/*
 * A 没有 that closes its clause with nothing after it negates the word
 * before it: 热气都没有 is cold, 薯条没有 a missing item.
 */
static void
dangle_resolve(scan_state *st)
{
	const sent_entry *e = st->last;

	if (st->neg_dangle && e != NULL && !st->last_negated)
	{
		double		v = -(1.0 + NEG_GAMMA) * e->lex * st->last_mult;

		if (e->tn & SENT_TOPIC_MISSING_ITEM)
			v += MISSING_PRIOR;
		st->ctopics |= e->tn;
		if (e->tn)
			st->anchors_after = 0;
		st->clause += v;
		if (e->tn == 0 && e->ta == 0)
			st->free_value += v;
		st->any = 1;
	}
	st->neg_dangle = 0;
}

static void
close_clause(scan_state *st)
{
	double		c;

	count_resolve(st, COUNT_END);
	dangle_resolve(st);
	/* 可乐没送来, 没送筷子: a missing item; 外卖还没送来: late */
	if (st->arrive && (st->items || (st->ctopics & SENT_TOPIC_MISSING_ITEM)))
		st->ctopics |= SENT_TOPIC_MISSING_ITEM;
	else if (st->arrive == 1)
		st->ctopics |= SENT_TOPIC_LATE;
	st->arrive = 0;
	c = st->clause;
	if (st->excl >= 2 || st->emph)
		c *= EMPH_MANY;
	else if (st->excl == 1)
		c *= EMPH_ONE;
	if (st->concess)
		c *= CONCESS_DISCOUNT;

	/*
	 * An anchor (味道, 骑手, price) names the topic of a negative clause
	 * unless a word of that clause that names a topic comes after it and
	 * explains all of its negativity (口味做错了 is a wrong item, not taste;
	 * "expensive and it tasted bad" is both).  Whether the text as a whole
	 * is a complaint is known only at its end.
	 */
	if (c < 0)
		st->anchored |= st->frames |
			((st->ctopics == 0 || st->free_value <= ANCHOR_FREE_NEG) ?
			 st->anchors | st->carried : st->anchors_after) |
			(st->free_value <= ANCHOR_FREE_NEG ? st->weak : 0);
	if (st->expect)
	{
		/* a fear waits for what happened (担心会凉，结果还是烫的) */
		st->feared += c;
		st->feared_topics |= st->ctopics;
	}
	else
	{
		/* what happened, of the other sign, answers the fears before it */
		if (st->feared * c < 0)
		{
			st->feared = 0;
			st->feared_topics = 0;
		}
		st->total += c;
		st->topics |= st->ctopics;
	}
	/* a clause that only names a topic hands it on (说到价格，真离谱) */
	if (!(c <= -NEUTRAL_CLAUSE || c >= NEUTRAL_CLAUSE) && st->ctopics == 0)
		st->anchors_after = st->anchors;
	else
		st->anchors = st->anchors_after = 0;
	st->clause = st->free_value = 0;
	st->excl = st->emph = st->concess = st->expect = 0;
	st->ctopics = st->frames = st->weak = 0;
	st->items = 0;
	st->neg_left = st->neg_on = st->neg_used = 0;
	st->neg_damp = 1.0;
	st->last = NULL;
	st->deg = 1.0;
	st->pending_close = 0;
}

/* punctuation: the clause closes when the next token starts */
static void
boundary(scan_state *st, int excl)
{
	count_resolve(st, COUNT_END);
	dangle_resolve(st);
	st->pending_close = 1;
	st->excl += excl;
	st->neg_left = st->neg_on = 0;
	st->deg = 1.0;
}

static void
emit(scan_state *st, int negated, int bigram, const char *k, size_t len)
{
	char		buf[SENT_MAX_KEY_BYTES + 2];
	size_t		n = 0;

	if (st->cb == NULL || st->stopped || len == 0 || len > SENT_MAX_KEY_BYTES)
		return;
	if (negated)
		buf[n++] = '!';
	if (bigram)
		buf[n++] = '#';
	memcpy(buf + n, k, len);
	if (st->cb(st->cbarg, buf, n + len) != 0)
		st->stopped = 1;
}

/* learned weight of an entry in context */
static double
learned_value(const sent_model *m, const sent_entry *e, int negated)
{
	double		v = 0;

	if (e == NULL)
		return 0;
	if (!negated)
	{
		if (e->has_w)
			v = e->w;
	}
	else if (e->has_wn)
		v = e->wn;
	else if (e->has_w)
		v = -NEG_LEARNED_FALLBACK * e->w;
	return v * m->learned_scale;
}

/*
 * What a Chinese token says as the count after a count word: COUNT_NUMBER
 * (一 两 三 … 几), COUNT_HALF (半 一半 一点 一些) or COUNT_WORD.
 */
static int
count_kind(const sent_entry *e, const char *k, size_t len)
{
	uint32_t	cp;

	/* 漏了一袋子, 洒了一地: a place, not a count */
	if (len == 0 || (e != NULL && (e->tp & SENT_TOPIC_SPILLED)))
		return COUNT_WORD;
	utf8_decode((const unsigned char *) k, len, &cp);
	if (cp == 0x534A)			/* 半 */
		return COUNT_HALF;
	if (len >= 6 && (memcmp(k, "一半", 6) == 0 || memcmp(k, "一点", 6) == 0 ||
					 memcmp(k, "一些", 6) == 0))
		return COUNT_HALF;
	switch (cp)
	{
		case 0x4E00:			/* 一 */
		case 0x4E8C:			/* 二 */
		case 0x4E24:			/* 两 */
		case 0x4FE9:			/* 俩 */
		case 0x4E09:			/* 三 */
		case 0x56DB:			/* 四 */
		case 0x4E94:			/* 五 */
		case 0x516D:			/* 六 */
		case 0x4E03:			/* 七 */
		case 0x516B:			/* 八 */
		case 0x4E5D:			/* 九 */
		case 0x5341:			/* 十 */
		case 0x51E0:			/* 几 */
			return COUNT_NUMBER;
	}
	return COUNT_WORD;
}

/*
 * Handle one token: a word (English word, Chinese lexicon word or single
 * character, emoji).  Returns whether it was negated, for the bigrams.
 */
static int
token(scan_state *st, const sent_entry *e, const char *k, size_t len, int cjk)
{
	int			negated = 0;
	double		mult = 1.0,
				v;
	uint8_t		kind = e ? e->kind : 0;

	if (st->pending_close)
		close_clause(st);
	st->last_cjk = cjk;
	if (st->count_on && !(kind & K_STOP))
		count_resolve(st, cjk ? count_kind(e, k, len) : COUNT_WORD);

	if (kind & K_CONTRAST)
	{
		close_clause(st);
		st->total *= CONTRAST_DISCOUNT;
		/* a fear followed by "but" did not come true */
		st->feared = 0;
		st->feared_topics = 0;
		emit(st, 0, 0, k, len);
		return 0;
	}
	if (kind & K_CONCESS)
	{
		st->concess = 1;
		emit(st, 0, 0, k, len);
		return 0;
	}
	if (kind & K_NEG)
	{
		if (st->neg_left > 0 && st->neg_used == 0)
			st->neg_on = !st->neg_on;	/* double negation: 不是不好 */
		else
		{
			st->neg_on = 1;
			st->neg_damp = e->deg;
		}
		st->neg_left = cjk ? NEG_SCOPE_CJK : NEG_SCOPE_EN;
		st->neg_used = 0;
		st->neg_dangle = cjk && (e->fl & F_DANGLE);
		emit(st, 0, 0, k, len);
		v = learned_value(st->m, e, 0);
		if (v != 0)
		{
			st->clause += v;
			st->any = 1;
		}
		return 0;
	}
	if (kind & K_DEG)
	{
		if (st->neg_left > 0 && st->neg_on)
			st->neg_damp = 0.5; /* "not very good": weaker, not stronger */
		else
			st->deg = e->deg;
		emit(st, 0, 0, k, len);
		return 0;
	}
	if (kind & K_STOP)
	{
		if (e->fl & F_EXPECT)
			st->expect = 1;
		if (!(st->neg_left > 0 && st->neg_on))
			st->weak |= e->ta;	/* "the food was awful" is about taste */
		return st->neg_left > 0 && st->neg_on;
	}
	/* 不给就骂人: 就 and 才 end a Chinese negation scope */
	if (cjk && len == 3 && (memcmp(k, "就", 3) == 0 || memcmp(k, "才", 3) == 0))
		st->neg_left = 0;
	/*
	 * "nothing was missing and it was hot": and ends an English scope; and
	 * what came before it in the clause, if negative and naming no topic,
	 * is a complaint about its anchors ("took an hour and ...").
	 */
	if (!cjk && len == 3 && memcmp(k, "and", 3) == 0)
	{
		st->neg_left = 0;
		if (st->ctopics == 0 && st->clause < 0)
			st->anchored |= st->anchors | st->frames;
	}

	/* a content token */
	st->neg_dangle = 0;
	if (st->neg_left > 0)
	{
		negated = st->neg_on && !(kind & K_NOFLIP);
		st->neg_left--;
		st->neg_used++;
		/*
		 * A Chinese scope ends at its first word with a prior, an English
		 * one at its first word of the built-in rules ("nothing was missing
		 * from my order").
		 */
		if (e != NULL && e->lex != 0 && (cjk || (kind & K_HAND)))
			st->neg_left = 0;
	}
	if (negated)
		mult = st->neg_damp;
	mult *= st->deg;
	emit(st, negated, 0, k, len);
	if (e != NULL)
	{
		double		prior = negated ? -NEG_GAMMA * e->lex : e->lex;
		double		learned = learned_value(st->m, e, negated);
		uint32_t	t = negated ? e->tn : e->tp;

		/* 没送来, 没有送: known at the end of the clause (close_clause) */
		if (e->fl & F_ARRIVE)
		{
			if (t & SENT_TOPIC_LATE)
				st->arrive = 1;
			else if (e->tp == 0 && e->tn == 0 && !st->arrive)
				st->arrive = 2;
			t &= ~SENT_TOPIC_LATE;
		}
		if ((e->tn & SENT_TOPIC_MISSING_ITEM) && e->lex == 0)
			st->items = 1;

		/*
		 * A hand-set prior (delivery vocabulary) keeps its sign: learned
		 * weights from other domains may strengthen it, never weaken it
		 * ("late" is bad for a delivery, whatever film reviews say).
		 */
		if ((kind & K_HAND) && prior * learned < 0)
			learned = 0;
		v = prior + learned;
		if (v != 0)
		{
			st->clause += v * mult;
			st->any = 1;
		}
		if ((e->fl & F_COUNT) && !negated)
		{
			/* its topic waits for the next token (少了 | 一份) */
			st->count_on = 1;
			st->count_topics = t;
		}
		else
		{
			/* free: a judgement that names no topic (差, awful, 离谱) */
			st->ctopics |= t;
			if (t == 0 && e->ta == 0 && e->lex != 0)
				st->free_value += v * mult;
			else if (t != 0)
				st->anchors_after = 0;
		}
		if (!negated)
		{
			/* 不是价格的问题, "not small": a negated anchor names nothing */
			st->anchors |= e->ta;
			st->anchors_after |= e->ta;
			if (e->fl & F_CARRY)
				st->carried |= e->ta;
			if (e->fl & F_FRAME)
				st->frames |= e->ta;
		}
		if (e->lex != 0 || e->tn != 0)
		{
			st->last = e;
			st->last_mult = mult;
			st->last_negated = negated;
		}
	}
	st->deg = 1.0;
	if (st->neg_left == 0)
		st->neg_on = 0;
	return negated;
}

/* a learned bigram inside a Chinese run */
static void
bigram(scan_state *st, const char *k, size_t len, int negated)
{
	const sent_entry *e;
	double		v;

	emit(st, negated, 1, k, len);
	e = lookup(st->m, NS_BIGRAM, k, len);
	if (e == NULL)
		return;
	v = learned_value(st->m, e, negated);
	if (v != 0)
	{
		st->clause += v * st->deg;
		st->any = 1;
	}
}

/* track repeated code points (好好好, !!!) for emphasis */
static void
note_cp(scan_state *st, uint32_t cp)
{
	if (cp == st->prev_cp)
	{
		if (++st->rep >= 3)
			st->emph = 1;
	}
	else
	{
		st->prev_cp = cp;
		st->rep = 1;
	}
}

/*
 * Length in code points of the longest lexicon word that starts at code
 * point `from` of a run whose offsets are offs[0..ncp]; 1 when there is
 * none.  *e is set to the word's entry (NULL for 1).
 */
static int
longest_word(const sent_model *m, const char *s, const size_t *offs, int from,
			 int ncp, const sent_entry **e)
{
	const sent_entry *first = lookup(m, NS_WORD, s + offs[from],
									 offs[from + 1] - offs[from]);
	unsigned	lens = first ? first->lens : 0;
	const sent_entry *two;
	int			j;

	*e = NULL;
	if (ncp - from < SENT_MAX_WORD_CP)
		lens &= (2u << (ncp - from)) - 1;	/* words that fit in the run */
	if (lens == 0)
		return 1;
	/* every longer word registered its first two code points */
	two = lookup(m, NS_WORD, s + offs[from], offs[from + 2] - offs[from]);
	if (two == NULL)
		return 1;
	lens &= two->lens | ((two->kind & K_WORD) ? (1u << 2) : 0);
	for (j = SENT_MAX_WORD_CP; j >= 3; j--)
	{
		const sent_entry *c;

		if (!(lens & (1u << j)))
			continue;
		c = lookup(m, NS_WORD, s + offs[from], offs[from + j] - offs[from]);
		if (c != NULL && (c->kind & K_WORD))
		{
			*e = c;
			return j;
		}
	}
	if (lens & (1u << 2))
	{
		*e = two;
		return 2;
	}
	return 1;
}

/*
 * Scan one token of a Chinese run starting at s[pos]: the longest lexicon
 * word there (at most SENT_MAX_WORD_CP code points), else one character.
 * Returns the number of bytes consumed.
 */
static size_t
scan_cjk(scan_state *st, const char *s, size_t len, size_t pos)
{
	size_t		offs[SENT_MAX_WORD_CP + 2] = {0};
	int			ncp = 0,
				L,
				j,
				negated;
	const sent_entry *first,
			   *e = NULL;
	size_t		p = pos;

	/* offsets of up to SENT_MAX_WORD_CP + 1 code points of this run */
	while (ncp < SENT_MAX_WORD_CP + 1 && p < len)
	{
		uint32_t	cp;
		int			n = utf8_decode((const unsigned char *) s + p, len - p, &cp);

		if (!is_cjk(cp))
			break;
		offs[ncp++] = p;
		p += n;
	}
	offs[ncp] = p;

	first = lookup(st->m, NS_WORD, s + pos, offs[1] - pos);
	L = longest_word(st->m, s, offs, 0, ncp, &e);
	/*
	 * Overlap: when a word starting inside the match runs past its end and
	 * is at least as long ("很难|吃" against "难吃"), cut the match before
	 * it ("很|难吃").
	 */
	for (j = 1; e != NULL && !(e->kind & RULE_KINDS) && j < L; j++)
	{
		const sent_entry *other;
		int			ol = longest_word(st->m, s, offs, j, ncp, &other);

		if (j + ol > L && ol >= L)
		{
			L = longest_word(st->m, s, offs, 0, j, &e);
			break;
		}
	}
	if (e == NULL || L == 1)
		e = first;

	for (j = 0; j < L; j++)
	{
		uint32_t	cp;

		utf8_decode((const unsigned char *) s + offs[j], len - offs[j], &cp);
		note_cp(st, cp);
	}

	negated = token(st, e, s + pos, offs[L] - pos, 1);
	/* bigrams starting inside this token, within the run */
	for (j = 0; j < L && j + 1 < ncp; j++)
		bigram(st, s + offs[j], offs[j + 2] - offs[j], negated);
	return offs[L] - pos;
}

/*
 * Scan an English-like word at s[pos]: letters, with apostrophes inside.
 * Lower-cases ASCII, folds runs of three or more equal letters ("soooo",
 * "gooood"), turns a final n't into a negator.  Returns bytes consumed.
 */
static size_t
scan_word(scan_state *st, const char *s, size_t len, size_t pos)
{
	char		buf[SENT_MAX_KEY_BYTES];
	char		one[SENT_MAX_KEY_BYTES];
	size_t		n = 0,
				p = pos;
	int			toolong = 0,
				elongated = 0,
				nt = 0,
				apos = 0;
	const sent_entry *e;

	while (p < len)
	{
		unsigned char c = (unsigned char) s[p];
		uint32_t	cp;
		int			cl;

		if (c == '\'' && p + 1 < len && p > pos &&
			((s[p + 1] | 0x20) >= 'a' && (s[p + 1] | 0x20) <= 'z'))
		{
			/* n't: the word is a negation; other suffixes ('s, 're) dropped */
			if ((s[p + 1] | 0x20) == 't' && n > 0 && buf[n - 1] == 'n')
			{
				nt = 1;
				n--;
			}
			apos = 1;
			p++;
			continue;
		}
		if (c < 0x80)
		{
			if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z'))
				break;
			c = (unsigned char) (c | 0x20);
			cl = 1;
		}
		else
		{
			cl = utf8_decode((const unsigned char *) s + p, len - p, &cp);
			if (!is_latin_letter(cp))
				break;
		}
		if (apos)
		{
			p += cl;			/* letters after the apostrophe are dropped */
			continue;
		}
		if (cl == 1 && n >= 2 && buf[n - 1] == (char) c && buf[n - 2] == (char) c)
		{
			elongated = 1;
			p++;
			continue;
		}
		if (n + cl > sizeof(buf))
			toolong = 1;
		else
		{
			if (cl == 1)
				buf[n] = (char) c;
			else
				memcpy(buf + n, s + p, cl);
			n += cl;
		}
		p += cl;
	}
	if (elongated)
		st->emph = 1;
	if (nt)
	{
		e = lookup(st->m, NS_WORD, "not", 3);
		token(st, e, "not", 3, 0);
		return p - pos;
	}
	if (toolong || n == 0)
	{
		token(st, NULL, "", 0, 0);
		return p - pos;
	}
	/* a two-word phrase of the lexicon ("on time", "top notch") */
	if (!elongated && p + 1 < len && s[p] == ' ')
	{
		char		phrase[SENT_MAX_KEY_BYTES];
		size_t		q = p + 1,
					k = n;

		if (n + 1 < sizeof(phrase))
		{
			memcpy(phrase, buf, n);
			phrase[k++] = ' ';
			while (q < len && k < sizeof(phrase) &&
				   (s[q] | 0x20) >= 'a' && (s[q] | 0x20) <= 'z')
				phrase[k++] = (char) (s[q++] | 0x20);
			/* a phrase may end in 's ("someone else's") */
			if (k > n + 1 && q + 1 < len && s[q] == '\'' && (s[q + 1] | 0x20) == 's' &&
				(q + 2 >= len || !((s[q + 2] | 0x20) >= 'a' && (s[q + 2] | 0x20) <= 'z')))
				q += 2;
			else if (k > n + 1 && q < len && (((s[q] | 0x20) >= 'a' && (s[q] | 0x20) <= 'z') ||
											  s[q] == '\'' || (unsigned char) s[q] >= 0x80))
				k = 0;			/* the second word goes on: no phrase */
			if (k > n + 1)
			{
				e = lookup(st->m, NS_WORD, phrase, k);
				if (e != NULL && (e->kind & K_WORD))
				{
					token(st, e, phrase, k, 0);
					return q - pos;
				}
			}
		}
	}
	e = lookup(st->m, NS_WORD, buf, n);
	if (e == NULL && elongated)
	{
		/* "soo" is not a word; try with every doubled letter single */
		size_t		i,
					m = 0;

		for (i = 0; i < n; i++)
			if (m == 0 || one[m - 1] != buf[i] || (unsigned char) buf[i] >= 0x80)
				one[m++] = buf[i];
		e = lookup(st->m, NS_WORD, one, m);
		if (e != NULL)
		{
			token(st, e, one, m, 0);
			return p - pos;
		}
	}
	token(st, e, buf, n, 0);
	return p - pos;
}

/* ASCII emoticon at s[pos], longest first; returns its length or 0 */
static size_t
scan_emoticon(scan_state *st, const char *s, size_t len, size_t pos)
{
	char		buf[4];
	size_t		n,
				i;

	for (n = 3; n >= 2; n--)
	{
		const sent_entry *e;

		if (pos + n > len)
			continue;
		for (i = 0; i < n; i++)
		{
			unsigned char c = (unsigned char) s[pos + i];

			buf[i] = (c >= 'A' && c <= 'Z') ? (char) (c | 0x20) : (char) c;
		}
		/* "http://" is not a frown */
		if (buf[0] == ':' && buf[1] == '/' && pos + 2 < len && s[pos + 2] == '/')
			return 0;
		/* a letter after :d or :p makes it text ("re:design") */
		if (n == 2 && (buf[1] == 'd' || buf[1] == 'p') && pos + 2 < len &&
			((s[pos + 2] | 0x20) >= 'a' && (s[pos + 2] | 0x20) <= 'z'))
			continue;
		e = lookup(st->m, NS_WORD, buf, n);
		if (e != NULL && (e->kind & K_NOFLIP))
		{
			token(st, e, buf, n, 0);
			return n;
		}
	}
	return 0;
}

static int
is_clause_punct(uint32_t cp)
{
	switch (cp)
	{
		case '.':
		case ',':
		case ';':
		case '?':
		case '\n':
		case '\r':
		case '~':
		case 0x3001:			/* 、 */
		case 0x3002:			/* 。 */
		case 0xFF0C:			/* ， */
		case 0xFF1B:			/* ； */
		case 0xFF1F:			/* ？ */
		case 0xFF5E:			/* ～ */
		case 0xFF0E:			/* ． */
		case 0x2026:			/* … */
		case 0xFF1A:			/* ： */
		case 0x2014:			/* — */
			return 1;
	}
	return 0;
}

static int
scan(const sent_model *m, const char *s, size_t len, sent_feature_cb cb,
	 void *arg, double *score, uint32_t *topics)
{
	scan_state	st;
	size_t		pos = 0;

	if (score)
		*score = 0;
	if (topics)
		*topics = 0;
	if (len > SENT_MAX_INPUT)
		return SENT_ERR_TOO_LONG;
	if (!sent_utf8_valid(s, len))
		return SENT_ERR_UTF8;

	memset(&st, 0, sizeof(st));
	st.m = m;
	st.cb = cb;
	st.cbarg = arg;
	st.neg_damp = 1.0;
	st.deg = 1.0;

	while (pos < len && !st.stopped)
	{
		unsigned char c = (unsigned char) s[pos];
		uint32_t	cp;
		int			n;

		if (c < 0x80)
		{
			if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
			{
				note_cp(&st, 0);
				pos += scan_word(&st, s, len, pos);
				continue;
			}
			if (c == ':' || c == ';' || c == '=' || c == '^' || c == '<')
			{
				size_t		e = scan_emoticon(&st, s, len, pos);

				if (e > 0)
				{
					pos += e;
					continue;
				}
			}
			if (c >= '0' && c <= '9' && st.count_on)
				count_resolve(&st, COUNT_NUMBER);	/* 少了2个 */
			note_cp(&st, c);
			if (c == '!')
				boundary(&st, 1);
			else if (c == ' ' || c == '\t')
			{
				/* a space between Chinese phrases separates clauses */
				if (st.last_cjk)
					boundary(&st, 0);
			}
			else if (is_clause_punct(c))
				boundary(&st, 0);
			pos++;
			continue;
		}
		n = utf8_decode((const unsigned char *) s + pos, len - pos, &cp);
		if (is_cjk(cp))
		{
			pos += scan_cjk(&st, s, len, pos);
			continue;
		}
		if (is_latin_letter(cp))
		{
			pos += scan_word(&st, s, len, pos);
			continue;
		}
		note_cp(&st, cp);
		if (cp == 0xFF01)		/* ！ */
			boundary(&st, 1);
		else if (is_clause_punct(cp) || cp == 0x3000)
			boundary(&st, 0);
		else if (is_symbol(cp))
		{
			const sent_entry *e = lookup(m, NS_WORD, s + pos, (size_t) n);

			if (e != NULL)
				token(&st, e, s + pos, (size_t) n, 0);
		}
		/* modifiers, other scripts and other punctuation are skipped */
		pos += n;
	}
	close_clause(&st);
	/* fears that nothing answered stand */
	st.total += st.feared;
	st.topics |= st.feared_topics;

	if (score || st.anchored)
	{
		double		t = st.total;

		if (st.any)
			t += m->bias;
		/* anchors name the topics of a text that complains */
		if (t < 0)
			st.topics |= st.anchored;
		if (score)
			*score = (t == 0) ? 0.0 : tanh(t / (m->scale > 0 ? m->scale : 1.0));
	}
	if (topics)
		*topics = st.topics;
	return SENT_OK;
}

int
sent_analyze(const sent_model *m, const char *s, size_t len, double *score,
			 uint32_t *topics)
{
	return scan(m, s, len, NULL, NULL, score, topics);
}

double
sent_score(const sent_model *m, const char *s, size_t len, int *err)
{
	double		score;
	int			rc = scan(m, s, len, NULL, NULL, &score, NULL);

	if (err)
		*err = rc;
	return score;
}

uint32_t
sent_topics(const sent_model *m, const char *s, size_t len, int *err)
{
	uint32_t	t;
	int			rc = scan(m, s, len, NULL, NULL, NULL, &t);

	if (err)
		*err = rc;
	return t;
}

int
sent_features(const sent_model *m, const char *s, size_t len,
			  sent_feature_cb cb, void *arg)
{
	return scan(m, s, len, cb, arg, NULL, NULL);
}
