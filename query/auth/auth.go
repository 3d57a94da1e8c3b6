// Package auth makes and checks Healthchecks-style API keys: "hcw_" (read-write) or
// "hcr_" (read-only) followed by 28 letters and digits. Only SHA-256 hashes of keys are
// stored; a key has about 166 random bits, so an unsalted hash is not guessable.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"strings"
)

// Key prefixes, as Healthchecks.
const (
	ReadWritePrefix = "hcw_"
	ReadOnlyPrefix  = "hcr_"
	// KeyLength is the length of every API key; other lengths are "missing api key".
	KeyLength = 32
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Keys are a new project's credentials, shown once.
type Keys struct {
	APIKey         string
	APIKeyReadonly string
	PingKey        string
}

// NewKeys returns fresh random credentials.
func NewKeys() Keys {
	return Keys{
		APIKey:         ReadWritePrefix + randomString(KeyLength-len(ReadWritePrefix)),
		APIKeyReadonly: ReadOnlyPrefix + randomString(KeyLength-len(ReadOnlyPrefix)),
		// Healthchecks' ping keys are 22 URL-safe characters; these fit its slug pattern.
		PingKey: randomString(22),
	}
}

func randomString(n int) string {
	var b strings.Builder
	limit := big.NewInt(int64(len(alphabet)))
	for range n {
		i, err := rand.Int(rand.Reader, limit)
		if err != nil {
			panic("reading crypto/rand: " + err.Error())
		}
		b.WriteByte(alphabet[i.Int64()])
	}
	return b.String()
}

// Digest returns a key's SHA-256, of which Hash is the stored, hexadecimal form.
func Digest(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// Hash returns the stored form of a key.
func Hash(key string) string {
	sum := Digest(key)
	return hex.EncodeToString(sum[:])
}
