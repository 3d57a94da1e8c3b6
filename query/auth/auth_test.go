package auth

import (
	"regexp"
	"testing"
)

func TestNewKeys(t *testing.T) {
	k := NewKeys()
	if !regexp.MustCompile(`^hcw_[A-Za-z0-9]{28}$`).MatchString(k.APIKey) {
		t.Errorf("api key %q", k.APIKey)
	}
	if !regexp.MustCompile(`^hcr_[A-Za-z0-9]{28}$`).MatchString(k.APIKeyReadonly) {
		t.Errorf("read-only key %q", k.APIKeyReadonly)
	}
	if !regexp.MustCompile(`^[-a-zA-Z0-9_]{22}$`).MatchString(k.PingKey) {
		t.Errorf("ping key %q", k.PingKey)
	}
	if other := NewKeys(); other == k {
		t.Error("two calls returned the same keys")
	}
	if Hash(k.APIKey) == Hash(k.APIKeyReadonly) || len(Hash(k.APIKey)) != 64 {
		t.Error("hashes must differ per key and be hex SHA-256")
	}
}
