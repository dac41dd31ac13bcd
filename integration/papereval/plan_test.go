package papereval

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDefaultPlan(t *testing.T) {
	p := DefaultParams()
	require.NoError(t, p.Validate())
	runs := p.Plan()
	ids := map[string]bool{}
	count := map[string]int{}
	for _, r := range runs {
		require.False(t, ids[r.ID()], "duplicate run %s", r.ID())
		ids[r.ID()] = true
		count[r.Kind]++
		if r.Kind == KindMixed {
			require.Equal(t, HasNF(r.Config), r.NF != "", "%s: NF traffic iff the configuration has it", r.ID())
			require.Equal(t, p.Seed+uint64(r.Rep-1), r.Seed, "every configuration of a repetition replays one stream")
			require.GreaterOrEqual(t, r.Duration, p.MinDuration)
			if r.Gap != p.HeadGap {
				require.Equal(t, 1, r.Rep, "%s: the sweep runs in the first repetition only", r.ID())
				if HasNF(r.Config) {
					require.Equal(t, "firewall-1024-rt", strings.Split(r.ID(), "/")[2])
				}
			}
		}
	}
	// 12 conditions (3 NFs x 2 sizes x 2 priorities) per repetition.
	require.Equal(t, 3*12, count[KindNFAlone])
	require.Equal(t, 3*(1+2*12), count[KindControlled])
	// head: native and native-warm once + colocated and nemo per condition; detail: 3 configs x 2 prios;
	// sweep (rep 1): 3 configs at the 3 gaps other than the head gap.
	require.Equal(t, 3*(2+2*12+3*2)+3*3, count[KindMixed])
	require.True(t, ids["mixed/nemo-no-tm/firewall-1024-normal/gap30s/d5m/rep2"])
	require.True(t, ids["mixed/native/no-nf/gap15m/d45m/rep1"], "a 15-min gap runs 3 gaps long")
	require.False(t, ids["mixed/nemo-no-tm/nat-1024-rt/gap30s/d5m/rep1"], "detail configurations only on the first NF")
}

func TestQuickPlan(t *testing.T) {
	p := QuickParams()
	require.NoError(t, p.Validate())
	runs := p.Plan()
	var mixed, ctl []string
	for _, r := range runs {
		switch r.Kind {
		case KindMixed:
			mixed = append(mixed, r.Config)
			require.Equal(t, 15*time.Second, r.Duration)
		case KindControlled:
			ctl = append(ctl, r.Config)
		}
	}
	require.ElementsMatch(t, MixedConfigs, mixed, "the smoke test runs every configuration")
	require.ElementsMatch(t, ControlledConfigs, ctl, "and every controlled condition")
	require.Len(t, runs, 1+len(ControlledConfigs)+len(MixedConfigs))
	for _, f := range QuickFunctions {
		_, ok := FunctionByName(f)
		require.True(t, ok, f)
	}
}

func TestPlanRotatesConfigurations(t *testing.T) {
	p := DefaultParams()
	first := map[int]string{}
	for _, r := range p.Plan() {
		if r.Kind == KindControlled {
			if _, ok := first[r.Rep]; !ok {
				first[r.Rep] = r.Config
			}
		}
	}
	require.Equal(t, map[int]string{1: CfgNative, 2: CfgColocated, 3: CfgHarvest}, first)
}

func TestParamsValidate(t *testing.T) {
	for _, mod := range []func(*Params){
		func(p *Params) { p.NFs = []string{"router"} },
		func(p *Params) { p.Sizes = []int{9000} },
		func(p *Params) { p.Prios = []string{"high"} },
		func(p *Params) { p.HeadConfigs = []string{"openwhisk"} },
		func(p *Params) { p.CtlConfigs = []string{"nemo"} },
		func(p *Params) { p.Reps = 0 },
		func(p *Params) { p.Gaps = []time.Duration{0} },
		func(p *Params) { p.NFs = nil },
	} {
		p := DefaultParams()
		mod(&p)
		require.Error(t, p.Validate())
	}
}

func TestRunIDsAreStable(t *testing.T) {
	r := RunSpec{Kind: KindMixed, Config: CfgNEMO, NF: "lb", Size: 1500, Prio: PrioNormal, Gap: 30 * time.Second,
		Duration: 5 * time.Minute, Rep: 2}
	require.Equal(t, "mixed/nemo/lb-1500-normal/gap30s/d5m/rep2", r.ID())
	require.Equal(t, "controlled/native/no-nf/rep1", RunSpec{Kind: KindControlled, Config: CfgNative, Rep: 1}.ID())
}
