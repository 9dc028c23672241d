package docker

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	cyberrange "github.com/cyrange/cyrange/range"
)

// ComposeFile writes a Compose file (format 2.4, as JSON, which Compose
// reads as YAML) that stands up the same topology as the driver would for
// plan p: the same networks with the same subnets and isolation, the same
// containers with the same addresses, restrictions, limits, volumes,
// published ports and ingress network. It is the baseline the range's bring-up is
// measured against (cyrange bench range), so its containers carry the
// plan's labels with the exercise label renamed to exercise, so that the
// two never mix.
func ComposeFile(p *cyberrange.Plan, exercise string) ([]byte, error) {
	if p == nil || len(p.Containers) == 0 {
		return nil, fmt.Errorf("docker: compose: %w: empty plan", cyberrange.ErrInvalid)
	}
	relabel := func(l map[string]string) map[string]string {
		out := maps.Clone(l)
		if out == nil {
			out = map[string]string{}
		}
		out[cyberrange.LabelExercise] = exercise
		delete(out, cyberrange.LabelPlanHash)
		return out
	}
	type ipamConfig struct {
		Subnet  string `json:"subnet,omitempty"`
		Gateway string `json:"gateway,omitempty"`
	}
	type ipam struct {
		Driver string       `json:"driver"`
		Config []ipamConfig `json:"config,omitempty"`
	}
	type netDef struct {
		Driver     string            `json:"driver"`
		Internal   bool              `json:"internal,omitempty"`
		DriverOpts map[string]string `json:"driver_opts,omitempty"`
		IPAM       ipam              `json:"ipam"`
		Labels     map[string]string `json:"labels,omitempty"`
	}
	type attach struct {
		IPv4 string `json:"ipv4_address,omitempty"`
	}
	type logging struct {
		Driver  string            `json:"driver"`
		Options map[string]string `json:"options,omitempty"`
	}
	type volumeDef struct {
		Driver string            `json:"driver"`
		Labels map[string]string `json:"labels,omitempty"`
	}
	type serviceVolume struct {
		Type     string `json:"type"`
		Source   string `json:"source"`
		Target   string `json:"target"`
		ReadOnly bool   `json:"read_only,omitempty"`
	}
	type service struct {
		Image       string             `json:"image"`
		Command     []string           `json:"command,omitempty"`
		Environment map[string]string  `json:"environment,omitempty"`
		Labels      map[string]string  `json:"labels,omitempty"`
		Networks    map[string]*attach `json:"networks"`
		Ports       []string           `json:"ports,omitempty"`
		CapDrop     []string           `json:"cap_drop"`
		CapAdd      []string           `json:"cap_add,omitempty"`
		SecurityOpt []string           `json:"security_opt"`
		ReadOnly    bool               `json:"read_only,omitempty"`
		Tmpfs       []string           `json:"tmpfs,omitempty"`
		Sysctls     map[string]string  `json:"sysctls,omitempty"`
		MemLimit    int64              `json:"mem_limit"`
		MemswLimit  int64              `json:"memswap_limit"`
		CPUs        float64            `json:"cpus"`
		PidsLimit   int64              `json:"pids_limit"`
		Logging     logging            `json:"logging"`
		Hostname    string             `json:"hostname,omitempty"`
		Volumes     []serviceVolume    `json:"volumes,omitempty"`
	}
	nets := map[string]netDef{}
	for _, n := range p.Networks {
		o := networkOptions(n)
		nets[n.Name] = netDef{Driver: o.Driver, Internal: o.Internal, DriverOpts: o.Options,
			IPAM:   ipam{Driver: o.IPAM.Driver, Config: []ipamConfig{{Subnet: o.IPAM.Config[0].Subnet.String(), Gateway: o.IPAM.Config[0].Gateway.String()}}},
			Labels: relabel(n.Labels)}
	}
	services := map[string]service{}
	vols := map[string]volumeDef{}
	for _, c := range p.Containers {
		if err := validContainer(c); err != nil {
			return nil, fmt.Errorf("docker: compose: %w", err)
		}
		co := createOptions(c)
		hc := co.HostConfig
		s := service{
			Image: c.Image, Command: c.Command, Environment: c.Env, Labels: relabel(co.Config.Labels),
			Networks: map[string]*attach{},
			CapDrop:  hc.CapDrop, CapAdd: hc.CapAdd, SecurityOpt: hc.SecurityOpt, ReadOnly: hc.ReadonlyRootfs,
			Sysctls:  hc.Sysctls,
			MemLimit: hc.Memory, MemswLimit: hc.MemorySwap, CPUs: float64(hc.NanoCPUs) / 1e9, PidsLimit: *hc.PidsLimit,
			Logging:  logging{Driver: hc.LogConfig.Type, Options: hc.LogConfig.Config},
			Hostname: co.Config.Hostname,
		}
		for path, opts := range hc.Tmpfs {
			s.Tmpfs = append(s.Tmpfs, path+":"+opts)
		}
		for _, a := range c.Networks {
			s.Networks[a.Network] = &attach{IPv4: a.Address.String()}
		}
		// Compose makes the volumes, under names of its project's.
		for _, m := range hc.Mounts {
			s.Volumes = append(s.Volumes, serviceVolume{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
			if _, ok := vols[m.Source]; !ok {
				o := volumeOptions(m.Source, c)
				vols[m.Source] = volumeDef{Driver: o.Driver, Labels: relabel(o.Labels)}
			}
		}
		if needsIngress(c) {
			ing := ingressName(exercise)
			if _, ok := nets[ing]; !ok {
				o := ingressOptions(exercise, netip.Prefix{})
				nets[ing] = netDef{Driver: o.Driver, DriverOpts: o.Options, IPAM: ipam{Driver: o.IPAM.Driver}, Labels: o.Labels}
			}
			s.Networks[ing] = &attach{}
		}
		for _, pt := range c.Ports {
			if pt.Publish == "" {
				continue
			}
			i := strings.LastIndex(pt.Publish, ":")
			host, hport := pt.Publish[:i], pt.Publish[i+1:]
			if hport == "0" {
				hport = ""
			}
			s.Ports = append(s.Ports, host+":"+hport+":"+strconv.Itoa(pt.Number))
		}
		slices.Sort(s.Ports)
		services[c.Name] = s
	}
	f := map[string]any{"version": "2.4", "networks": nets, "services": services}
	if len(vols) > 0 {
		f["volumes"] = vols
	}
	return json.MarshalIndent(f, "", "  ")
}
