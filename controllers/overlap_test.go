package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ipamv1alpha1 "github.com/ipkeeper/ipkeeper/api/v1alpha1"
)

// at is a creation time, in whole seconds as the API server stores it.
func at(sec int) metav1.Time {
	return metav1.NewTime(time.Date(2026, 1, 1, 0, 0, sec, 0, time.UTC))
}

func poolAt(name, cidr string, created int) ipamv1alpha1.IPPool {
	return ipamv1alpha1.IPPool{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: at(created)},
		Spec:       ipamv1alpha1.IPPoolSpec{CIDR: cidr},
	}
}

func TestPoolWins(t *testing.T) {
	tests := []struct {
		name string
		a, b ipamv1alpha1.IPPool
		want bool
	}{
		{name: "older wins whatever its name", a: poolAt("zz", "10.0.0.0/8", 1), b: poolAt("aa", "10.0.0.0/8", 2), want: true},
		{name: "younger loses whatever its name", a: poolAt("aa", "10.0.0.0/8", 2), b: poolAt("zz", "10.0.0.0/8", 1), want: false},
		{name: "same second: earlier name wins", a: poolAt("blue", "10.0.0.0/8", 1), b: poolAt("green", "10.0.0.0/8", 1), want: true},
		{name: "same second: later name loses", a: poolAt("green", "10.0.0.0/8", 1), b: poolAt("blue", "10.0.0.0/8", 1), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := poolWins(&tt.a, &tt.b); got != tt.want {
				t.Errorf("poolWins(%s, %s) = %v; want %v", tt.a.Name, tt.b.Name, got, tt.want)
			}
		})
	}
}

func TestOverlapWinner(t *testing.T) {
	pools := []ipamv1alpha1.IPPool{
		poolAt("wide", "10.0.0.0/8", 4),     // overlaps, older than "me"
		poolAt("oldest", "10.1.0.0/16", 3),  // overlaps, oldest of all
		poolAt("me", "10.1.2.0/24", 5),      // the pool under test
		poolAt("young", "10.1.2.128/25", 9), // overlaps, younger: it loses to "me"
		poolAt("beside", "10.2.0.0/16", 1),  // older but disjoint
		poolAt("v6", "fd00::/8", 0),         // other family
		poolAt("broken", "not-a-prefix", 0), // overlaps nothing
		poolAt("aa-tie", "10.1.2.0/26", 5),  // same second, earlier name: wins over "me"
		poolAt("zz-tie", "10.1.2.64/26", 5), // same second, later name: loses
	}
	me := &pools[2]
	winner := overlapWinner(me, pools)
	if winner == nil || winner.Name != "oldest" {
		t.Fatalf("overlapWinner(me) = %v; want oldest", winner)
	}
	if w := overlapWinner(&pools[1], pools); w != nil {
		t.Errorf("the oldest pool lost to %s", w.Name)
	}
	if w := overlapWinner(&pools[3], pools); w == nil || w.Name != "oldest" {
		t.Errorf("overlapWinner(young) = %v; want oldest", w)
	}
	// Without the older pools, the tie decides by name.
	if w := overlapWinner(me, []ipamv1alpha1.IPPool{pools[2], pools[3], pools[7], pools[8]}); w == nil || w.Name != "aa-tie" {
		t.Errorf("overlapWinner(me) among ties = %v; want aa-tie", w)
	}
	if w := overlapWinner(me, []ipamv1alpha1.IPPool{pools[2], pools[3], pools[8]}); w != nil {
		t.Errorf("me lost to %s, which is younger or later by name", w.Name)
	}

	got := overlappingPools(me, pools)
	want := []string{"wide", "oldest", "young", "aa-tie", "zz-tie"}
	if len(got) != len(want) {
		t.Fatalf("overlappingPools(me) = %v; want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("overlappingPools(me) = %v; want %v", got, want)
		}
	}
}
