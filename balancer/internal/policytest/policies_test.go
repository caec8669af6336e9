package policytest

import (
	"fmt"
	"strings"
	"testing"

	_ "google.golang.org/grpc/balancer/roundrobin" // a child of the parents

	"github.com/grpckit/grpckit/balancer/consistenthash"
	"github.com/grpckit/grpckit/balancer/outlier"
	"github.com/grpckit/grpckit/balancer/p2c"
	"github.com/grpckit/grpckit/balancer/wrr"
	"github.com/grpckit/grpckit/balancer/zoneaware"
)

// outlierConfig is an outlier configuration that ejects and lets back within
// a sequence, over child.
func outlierConfig(child string) string {
	return fmt.Sprintf(`{"consecutiveFailures":2,"interval":"100ms","baseEjectionTime":"100ms","maxEjectionTime":"300ms","maxEjectionPercent":50,"childPolicy":[%s]}`, child)
}

func zoneConfig(local, child string) string {
	return fmt.Sprintf(`{"localZone":%q,"childPolicy":[%s]}`, local, child)
}

func child(name, cfg string) string { return fmt.Sprintf(`{%q:%s}`, name, cfg) }

// specs are the policies and parent/child combinations under test.
var specs = map[string]Spec{
	"wrr":            {Name: wrr.Name, Configs: []string{`{}`, `{"slowStartWindow":"1s"}`}},
	"p2c":            {Name: p2c.Name, Configs: []string{`{}`, `{"decayTime":"100ms","errorPenalty":"0s"}`, `{"decayTime":"1h","slowStartWindow":"1s"}`}},
	"consistenthash": {Name: consistenthash.Name, Configs: []string{`{}`, `{"loadFactor":1.25}`}},
	"zoneaware_over_wrr": {Name: zoneaware.Name, Configs: []string{
		zoneConfig("a", child(wrr.Name, `{}`)), zoneConfig("b", child(wrr.Name, `{"slowStartWindow":"1s"}`)),
	}},
	"zoneaware_over_p2c":            {Name: zoneaware.Name, Configs: []string{zoneConfig("a", child(p2c.Name, `{}`)), zoneConfig("c", child(p2c.Name, `{}`))}},
	"zoneaware_over_consistenthash": {Name: zoneaware.Name, Configs: []string{zoneConfig("a", child(consistenthash.Name, `{}`))}},
	"outlier_over_round_robin":      {Name: outlier.Name, MaxEjectedPercent: 50, Configs: []string{outlierConfig(child("round_robin", `{}`))}},
	"outlier_over_wrr":              {Name: outlier.Name, MaxEjectedPercent: 50, Configs: []string{outlierConfig(child(wrr.Name, `{}`)), `{"childPolicy":[{"grpckit_weighted_round_robin":{}}]}`}},
	"outlier_over_p2c":              {Name: outlier.Name, MaxEjectedPercent: 50, Configs: []string{outlierConfig(child(p2c.Name, `{}`))}},
	"outlier_over_consistenthash":   {Name: outlier.Name, MaxEjectedPercent: 50, Configs: []string{outlierConfig(child(consistenthash.Name, `{}`))}},
	"zoneaware_over_outlier_over_wrr": {Name: zoneaware.Name, MaxEjectedPercent: 50, Configs: []string{
		zoneConfig("a", child(outlier.Name, outlierConfig(child(wrr.Name, `{}`)))),
	}},
	"outlier_over_zoneaware_over_p2c": {Name: outlier.Name, MaxEjectedPercent: 50, Configs: []string{
		outlierConfig(child(zoneaware.Name, zoneConfig("a", child(p2c.Name, `{}`)))),
	}},
}

func TestRandomUpdates(t *testing.T) {
	for name, spec := range specs {
		opts := Options{}
		if strings.Contains(name, "consistenthash") {
			opts = Options{Seeds: 2, Steps: 150} // its table takes a while to build
		}
		t.Run(name, func(t *testing.T) { Run(t, spec, opts) })
	}
}
