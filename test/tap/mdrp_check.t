#!/usr/bin/env bash
# test/tap/mdrp_check.t: the feasibility checker of meal-delivery solutions
# (tools/sim --check, tools/sim-src/mdrp.c) on a hand-made instance: a
# valid solution passes with its measures (orders past the maximum
# click-to-door counted, not refused), and one broken solution per rule
# is refused with its reason; the lower bound of the mean over the
# delivered orders when some are lost; where the food waited (tools/sim
# --waits) in the valid one and in one with an order given late.  Then the
# simple online rule's solution
# of the instance passes, and, where the real data is at hand, a replay of
# its smallest instance through the SQL API passes too.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
sim="$here/tools/sim"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -x "$sim" ] || { echo "1..0 # SKIP tools/sim is not built (make)"; exit 0; }

# two restaurants 1 km apart, three orders, two couriers; 100 m a minute,
# 4 minutes of service at each end
inst="$work/inst"
mkdir "$inst"
printf 'restaurant\tx\ty\nr1\t0\t0\nr2\t1000\t0\n' >"$inst/restaurants.txt"
printf 'courier\tx\ty\ton_time\toff_time\nc1\t0\t0\t0\t100\nc2\t1000\t0\t0\t100\n' >"$inst/couriers.txt"
printf 'order\tx\ty\tplacement_time\trestaurant\tready_time\no1\t0\t500\t0\tr1\t10\no2\t0\t1000\t2\tr1\t12\no3\t1000\t500\t5\tr2\t8\n' >"$inst/orders.txt"
printf 'meters_per_minute\tpickup service minutes\tdropoff service minutes\ttarget click-to-door\tmaximum click-to-door\tpay per order\tguaranteed pay per hour\n100\t4\t4\t40\t90\t10\t15\n' >"$inst/instance_parameters.txt"

# the valid solution, by hand: c1 waits at r1 from minute 2, picks up o1
# and o2 when both are ready (12), leaves at 14, o1 is 5 minutes away
# (drop-off at 19 + 2), o2 5 more (at 28 + 2); c2 is at r2 at 5, picks up
# at 8 (ready), leaves at 10, drops o3 at 15 + 2
valid="$work/valid"
mkdir "$valid"
printf 'assignment_time pickup_time courier orders\n2 12 c1 o1 o2\n5 8 c2 o3\n' >"$valid/solution_info_assignments.txt"
printf 'order placement_time ready_time pickup_time dropoff_time courier\no1 0 10 12 21 c1\no2 2 12 12 30 c1\no3 5 8 8 17 c2\n' >"$valid/solution_info_orders.txt"
printf 'courier departure_time origin destination\nc1 2 0 r1\nc1 14 r1 o1\nc1 23 o1 o2\nc2 5 0 r2\nc2 10 r2 o3\n' >"$valid/solution_info_couriers.txt"

echo "1..32"
n=0
out=$("$sim" --check "$inst" "$valid" 2>&1); rc=$?
n=$((n + 1))
if [ $rc -eq 0 ] && grep -q "3 of 3 orders delivered" <<<"$out" && grep -q "click-to-door mean 20.33" <<<"$out"; then
	echo "ok $n - the hand-made solution is feasible; click-to-door (21 + 28 + 12) / 3 = 20.33"
else
	echo "not ok $n - the hand-made solution is feasible"; echo "$out" | sed 's/^/# /'
fi

# the maximum click-to-door is a target reported, not a rule: with a
# maximum of 20 minutes, o1 (21) and o2 (28) are past it and the solution
# is still feasible
n=$((n + 1))
if grep -q "0 delivered past the maximum click-to-door of 90 min" <<<"$out"; then
	echo "ok $n - none of the hand-made solution's orders is past the maximum of 90 minutes"
else
	echo "not ok $n - none past the maximum of 90 minutes"; echo "$out" | sed 's/^/# /'
fi
n=$((n + 1))
cp -r "$inst" "$work/inst20"
sed -i 's/^100\t4\t4\t40\t90\t/100\t4\t4\t40\t20\t/' "$work/inst20/instance_parameters.txt"
out=$("$sim" --check "$work/inst20" "$valid" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "^feasible" <<<"$out" && grep -q "2 delivered past the maximum click-to-door of 20 min" <<<"$out"; then
	echo "ok $n - two orders past a maximum of 20 minutes are counted, and the solution stays feasible"
else
	echo "not ok $n - orders past the maximum are counted, not refused"; echo "$out" | sed 's/^/# /'
fi

# broken(description, file, sed expression, expected reason)
broken() {
	local what=$1 file=$2 expr=$3 reason=$4 dir
	n=$((n + 1))
	dir="$work/broken$n"
	cp -r "$valid" "$dir"
	sed -i "$expr" "$dir/$file"
	out=$("$sim" --check "$inst" "$dir" 2>&1); rc=$?
	if [ $rc -eq 1 ] && grep -q "$reason" <<<"$out"; then
		echo "ok $n - refused: $what"
	else
		echo "not ok $n - refused: $what"; echo "$out" | sed 's/^/# /'
	fi
}
A=solution_info_assignments.txt
O=solution_info_orders.txt
C=solution_info_couriers.txt
broken "an order in two trips" $A 's/^5 8 c2 o3$/5 8 c2 o3 o1/' "assigned twice"
broken "a trip assigned before its order is placed" $A 's/^2 12 c1 o1 o2$/1 12 c1 o1 o2/' "before order o2 is placed"
broken "two restaurants in one trip" $A 's/^2 12 c1 o1 o2$/5 12 c1 o1 o2 o3/; /^5 8 c2 o3$/d' "two restaurants"
broken "a pickup after the courier's off time" $A 's/^5 8 c2 o3$/5 101 c2 o3/' "outside the duty"
broken "a pickup before the food is ready" $A 's/^2 12 c1 o1 o2$/2 11 c1 o1 o2/' "before its orders are ready"
broken "a pickup before the courier has arrived and served" $C 's/^c2 5 0 r2$/c2 7 0 r2/' "before arriving there"
broken "a departure before the courier is free" $C 's/^c1 2 0 r1$/c1 -1 0 r1/' "before it is free"
broken "a trip assigned after its pickup" $A 's/^5 8 c2 o3$/60 8 c2 o3/' "c2: leaves for r2 at 5, before its trip is assigned (60)"
broken "a courier setting out before its order is placed and given" $C 's/^c2 5 0 r2$/c2 0 0 r2/' "c2: leaves for r2 at 0, before its trip is assigned (5)"
broken "a move that starts where the courier is not" $C 's/^c1 23 o1 o2$/c1 23 r1 o2/' "assigned sequence"
broken "drop-offs out of the assigned sequence" $A 's/^2 12 c1 o1 o2$/2 12 c1 o2 o1/' "assigned sequence"
broken "a trip interrupted (late departure from a stop)" $C 's/^c1 14 r1 o1$/c1 15 r1 o1/' "never interrupted"
broken "a drop-off time that the moves do not give" $O 's/^o3 5 8 8 17 c2$/o3 5 8 8 16 c2/' "its trip gives"
broken "a delivered order missing from the orders file" $O '/^o3 /d' "not listed"
broken "a delivered order listed twice in the orders file" $O '$a o3 5 8 8 17 c2' "o3 is listed twice"
broken "a move that belongs to no trip" $C '$a c2 30 o3 r1' "belongs to no trip"
broken "a drop-off time that is not a whole number" $O 's/^o3 5 8 8 17 c2$/o3 5 8 8 17.9 c2/' "solution_info_orders.txt line 4: malformed"
broken "an assignment time that is not a whole number" $A 's/^5 8 c2 o3$/5.5 8 c2 o3/' "solution_info_assignments.txt line 3: malformed"
broken "a departure time that is not a number" $C 's/^c2 5 0 r2$/c2 5x 0 r2/' "solution_info_couriers.txt line 5: malformed move"
broken "a delivered order with a seventh column" $O 's/^o3 5 8 8 17 c2$/o3 5 8 8 17 c2 c1/' "solution_info_orders.txt line 4: malformed (7 columns, the format has 6)"
broken "a move with two destinations" $C 's/^c2 10 r2 o3$/c2 10 r2 o3 o1/' "solution_info_couriers.txt line 6: malformed move (5 columns, the format has 4)"

# an instance whose order names a restaurant that restaurants.txt does not
# have (beyond the highest id, or in a gap of the ids) is refused as an
# instance (status 2) with the order's line, not read out of bounds
badinst() {
	local what=$1 file=$2 expr=$3 reason=$4 dir
	n=$((n + 1))
	dir="$work/badinst$n"
	cp -r "$inst" "$dir"
	sed -i "$expr" "$dir/$file"
	out=$("$sim" --check "$dir" "$valid" 2>&1); rc=$?
	if [ $rc -eq 2 ] && grep -q "$reason" <<<"$out"; then
		echo "ok $n - instance refused: $what"
	else
		echo "not ok $n - instance refused: $what (status $rc)"; echo "$out" | sed 's/^/# /'
	fi
}
badinst "an order of a restaurant past the highest id" orders.txt 's/\tr2\t8$/\tr999999\t8/' "orders.txt line 4: unknown restaurant r999999"
badinst "an order of a restaurant in a gap of the ids" restaurants.txt 's/^r2\t/r3\t/' "orders.txt line 4: unknown restaurant r2"

# the lower bound of the mean is over the orders the mean is over: with
# c1's trip dropped, o1 and o2 are lost and only o3 is delivered, in 12
# minutes, its bound (ready at 8, 2 + 5 + 2 minutes on, placed at 5); over
# all three orders the bound would be 18.33, above the mean
n=$((n + 1))
lost="$work/lost"
cp -r "$valid" "$lost"
sed -i '/ c1 /d' "$lost/$A"
sed -i '/ c1$/d' "$lost/$O"
sed -i '/^c1 /d' "$lost/$C"
out=$("$sim" --check "$inst" "$lost" 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "1 of 3 orders delivered" <<<"$out" && grep -q "click-to-door mean 12.00" <<<"$out" &&
	grep -q "lower bound of the mean 12.00 min" <<<"$out"; then
	echo "ok $n - with orders lost, the lower bound is over the delivered orders (12.00), not above the mean"
else
	echo "not ok $n - with orders lost, the lower bound is over the delivered orders"; echo "$out" | sed 's/^/# /'
fi

# where the food waited: o1 waits 2 minutes (given at 2, ready at 10,
# picked up at 12), o2 rides 4 minutes longer behind o1; then o3 given to
# c2 only at 9, after its food was ready at 8, while c2 stood idle at r2
# from minute 0 and could have picked it up at 8
n=$((n + 1))
out=$("$sim" --waits "$inst" "$valid" 2>&1)
if grep -q "food wait 0.667 min; given after ready: share 0.000, wait 0.000, an idle courier sooner 0.000; given before, late: share 0.333, wait 0.667; detour 1.333" <<<"$out"; then
	echo "ok $n - waits: o1's 2 minutes given before ready, o2's 4 minutes of detour"
else
	echo "not ok $n - waits of the valid solution"; echo "$out" | sed 's/^/# /'
fi
n=$((n + 1))
late="$work/late"
cp -r "$valid" "$late"
sed -i 's/^5 8 c2 o3$/9 11 c2 o3/' "$late/$A"
sed -i 's/^o3 5 8 8 17 c2$/o3 5 8 11 20 c2/' "$late/$O"
sed -i 's/^c2 5 0 r2$/c2 9 0 r2/; s/^c2 10 r2 o3$/c2 13 r2 o3/' "$late/$C"
out=$("$sim" --check "$inst" "$late" 2>&1; "$sim" --waits "$inst" "$late" 2>&1)
if grep -q "^feasible" <<<"$out" && grep -q "food wait 1.667 min; given after ready: share 0.333, wait 1.000, an idle courier sooner 1.000;" <<<"$out"; then
	echo "ok $n - waits: o3 given after its food was ready, with its courier idle and able to come sooner"
else
	echo "not ok $n - waits of a solution with an order given late"; echo "$out" | sed 's/^/# /'
fi

# the simple online rule of the instance, and a real replay
n=$((n + 1))
"$sim" --replay "$inst" --out "$work/greedy" --strategy greedy >"$work/g.out" 2>&1 &&
	"$sim" --check "$inst" "$work/greedy" >/dev/null 2>&1
[ $? -eq 0 ] && echo "ok $n - the simple online rule's solution is feasible" || { echo "not ok $n - the simple online rule's solution is feasible"; sed 's/^/# /' "$work/g.out"; }
n=$((n + 1))
if [ -n "${PGDATABASE:-}" ] && "$sim" --replay "$inst" --out "$work/tiny" >"$work/t.out" 2>&1 &&
	"$sim" --check "$inst" "$work/tiny" >>"$work/t.out" 2>&1 && grep -q "3 of 3 orders delivered" "$work/t.out"; then
	echo "ok $n - the hand-made day replayed through the SQL API is feasible and delivers everything"
elif [ -z "${PGDATABASE:-}" ]; then
	echo "ok $n # SKIP no database (run it with ./tools/pgdev run)"
else
	echo "not ok $n - the hand-made day replayed through the SQL API is feasible"; sed 's/^/# /' "$work/t.out"
fi
n=$((n + 1))
data=""
for d in "${MDRP_DATA:-}" "$here/../shared/data/mdrp" /work/shared/data/mdrp; do
	[ -n "$d" ] && [ -d "$d/0o50t75s1p100" ] && { data="$d/0o50t75s1p100"; break; }
done
if [ -n "$data" ] && [ -n "${PGDATABASE:-}" ]; then
	if "$sim" --replay "$data" --out "$work/replay" >"$work/r.out" 2>&1 && "$sim" --check "$data" "$work/replay" >>"$work/r.out" 2>&1; then
		echo "ok $n - a real day replayed through the SQL API is feasible"
		sed 's/^/# /' "$work/r.out"
	else
		echo "not ok $n - a real day replayed through the SQL API is feasible"; sed 's/^/# /' "$work/r.out"
	fi
else
	echo "ok $n # SKIP the meal-delivery data or a database is not at hand"
fi
