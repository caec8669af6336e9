package etcd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	kitresolver "github.com/grpckit/grpckit/resolver"
)

// wireValue is grpckit's JSON value. Go's encoding/json matches field names
// case-insensitively, so the same struct also reads the {"Op","Addr",
// "Metadata"} JSON of etcd's naming/endpoints, and etcd's resolver reads the
// "addr" and "metadata" fields this struct writes.
type wireValue struct {
	Addr     string            `json:"addr"`
	Weight   uint32            `json:"weight,omitempty"`
	Zone     string            `json:"zone,omitempty"`
	Version  string            `json:"version,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// readValue is what decodeValue accepts: wireValue with the loosely typed
// fields of etcd's format kept raw so they can be checked one by one.
type readValue struct {
	Op       *int64          `json:"op"`
	Addr     string          `json:"addr"`
	Weight   *int64          `json:"weight"`
	Zone     string          `json:"zone"`
	Version  string          `json:"version"`
	Metadata json.RawMessage `json:"metadata"`
}

// encodeValue returns the registry value for inst.
func encodeValue(inst kitresolver.Instance) ([]byte, error) {
	v, err := json.Marshal(wireValue{
		Addr: inst.Addr, Weight: inst.Weight, Zone: inst.Zone,
		Version: inst.Version, Metadata: inst.Metadata,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: encoding %s: %w", inst, err)
	}
	return v, nil
}

// decodeValue returns the Instance that the value stored under
// <prefix><service>/<id> describes. It accepts grpckit's JSON, etcd's
// naming/endpoints JSON and a plain host:port, and validates the result.
func decodeValue(service, id string, value []byte) (kitresolver.Instance, error) {
	inst := kitresolver.Instance{ID: id, Service: service}
	v := bytes.TrimSpace(value)
	var err error
	switch {
	case len(v) == 0:
		return inst, errors.New("etcd: empty value")
	case v[0] == '{':
		err = decodeJSON(&inst, v)
	case !utf8.Valid(v):
		return inst, errors.New("etcd: value is not valid UTF-8")
	default:
		inst.Addr = string(v)
	}
	if err != nil {
		return inst, err
	}
	if err := inst.Validate(); err != nil {
		return inst, fmt.Errorf("etcd: %w", err)
	}
	return inst, nil
}

// decodeJSON fills inst from a JSON object value.
func decodeJSON(inst *kitresolver.Instance, v []byte) error {
	var r readValue
	if err := json.Unmarshal(v, &r); err != nil {
		return fmt.Errorf("etcd: value is not valid JSON: %w", err)
	}
	if r.Op != nil && *r.Op != 0 {
		return fmt.Errorf("etcd: naming/endpoints op %d is not an addition", *r.Op)
	}
	if r.Weight != nil && (*r.Weight < 0 || *r.Weight > kitresolver.MaxWeight) {
		return fmt.Errorf("etcd: weight %d is outside 0-%d", *r.Weight, kitresolver.MaxWeight)
	}
	md, err := decodeMetadata(r.Metadata)
	if err != nil {
		return err
	}
	inst.Addr, inst.Zone, inst.Version, inst.Metadata = r.Addr, r.Zone, r.Version, md
	if r.Weight != nil {
		inst.Weight = uint32(*r.Weight)
	}
	return nil
}

// decodeMetadata turns a metadata field into a string map. A JSON object
// becomes the map, its non-string values kept as their compact JSON text
// (etcd's naming/endpoints allows any JSON there). null and absent give nil;
// any other JSON value (a string, a number) is not a map and is dropped.
func decodeMetadata(raw json.RawMessage) (map[string]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, fmt.Errorf("etcd: metadata: %w", err)
	}
	if len(fields) == 0 {
		return nil, nil
	}
	md := make(map[string]string, len(fields))
	for k, f := range fields {
		md[k] = metadataString(f)
	}
	return md, nil
}

// metadataString returns a JSON string's text, or any other value's compact JSON.
func metadataString(f json.RawMessage) string {
	var s string
	if json.Unmarshal(f, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if err := json.Compact(&b, f); err != nil {
		return string(f)
	}
	return b.String()
}
