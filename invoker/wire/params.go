package wire

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrLocked: a parameter value named in lockedArgs could not be decrypted (corrupt, or locked with another key).
var ErrLocked = errors.New("wire: locked parameter")

// ParameterKey holds OpenWhisk's parameter-storage keys (whisk.parameter-storage.aes-128 and aes-256,
// base64): 16 bytes lock parameters with AES-128-GCM, 32 with AES-256-GCM. The controller encrypts the
// parameters an action stores with its current scheme; the invoker decrypts each one an activation message
// names in lockedArgs with the key of the scheme named there (ParameterEncryption). A value locked with a
// scheme the invoker has no key for reaches the action as it is, as in OpenWhisk.
type ParameterKey struct {
	blocks map[string]cipher.Block // "aes128" | "aes256" → key
}

// NewParameterKey decodes one base64 key of 16 or 32 bytes.
func NewParameterKey(b64 string) (*ParameterKey, error) {
	block, scheme, err := newBlock(b64, 0)
	if err != nil {
		return nil, err
	}
	return &ParameterKey{blocks: map[string]cipher.Block{scheme: block}}, nil
}

// NewParameterKeys decodes OpenWhisk's two keys (either may be "", not both): aes128 must be 16 bytes and
// aes256 32 bytes of base64.
func NewParameterKeys(aes128, aes256 string) (*ParameterKey, error) {
	k := &ParameterKey{blocks: map[string]cipher.Block{}}
	for _, in := range []struct {
		b64, scheme string
		size        int
	}{{aes128, "aes128", 16}, {aes256, "aes256", 32}} {
		if in.b64 == "" {
			continue
		}
		block, _, err := newBlock(in.b64, in.size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.scheme[:3]+"-"+in.scheme[3:], err)
		}
		k.blocks[in.scheme] = block
	}
	if len(k.blocks) == 0 {
		return nil, errors.New("parameter key: none given")
	}
	return k, nil
}

// newBlock decodes a base64 AES key; size 0 accepts 16 or 32 bytes.
func newBlock(b64 string, size int) (cipher.Block, string, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, "", fmt.Errorf("parameter key: not base64: %w", err)
	}
	var scheme string
	switch {
	case size != 0 && len(raw) != size:
		return nil, "", fmt.Errorf("parameter key: %d bytes, want %d", len(raw), size)
	case len(raw) == 16:
		scheme = "aes128"
	case len(raw) == 32:
		scheme = "aes256"
	default:
		return nil, "", fmt.Errorf("parameter key: %d bytes, want 16 (AES-128) or 32 (AES-256)", len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, "", fmt.Errorf("parameter key: %w", err)
	}
	return block, scheme, nil
}

// Scheme is the lockedArgs name of the key's cipher, "aes128" or "aes256", for a key made of one; with both
// it is "aes128+aes256".
func (k *ParameterKey) Scheme() string {
	switch {
	case k.blocks["aes128"] != nil && k.blocks["aes256"] != nil:
		return "aes128+aes256"
	case k.blocks["aes256"] != nil:
		return "aes256"
	}
	return "aes128"
}

// block is the key for a lockedArgs scheme name ("aes-128" at OpenWhisk's HEAD, "aes128" in earlier
// spellings), nil when there is none.
func (k *ParameterKey) block(scheme string) cipher.Block {
	return k.blocks[strings.ReplaceAll(scheme, "-", "")]
}

// decrypt opens one locked value: base64 of a big-endian int32 IV length, the IV, then the GCM ciphertext
// with its 16-byte tag. The plaintext is the parameter's string value.
func decrypt(block cipher.Block, locked string) (string, error) {
	msg, err := base64.StdEncoding.DecodeString(locked)
	if err != nil {
		return "", fmt.Errorf("not base64: %w", err)
	}
	if len(msg) < 4 {
		return "", errors.New("too short")
	}
	ivLen := int(binary.BigEndian.Uint32(msg))
	if ivLen < 1 || ivLen > len(msg)-4 {
		return "", fmt.Errorf("IV length %d does not fit %d bytes", ivLen, len(msg))
	}
	aead, err := cipher.NewGCMWithNonceSize(block, ivLen)
	if err != nil {
		return "", err
	}
	plain, err := aead.Open(nil, msg[4:4+ivLen], msg[4+ivLen:], nil)
	if err != nil {
		return "", fmt.Errorf("GCM: %w", err)
	}
	return string(plain), nil
}

// Unlock replaces the content values that lockedArgs names with the key's scheme by their decrypted
// strings, as OpenWhisk's ParameterEncryption.unlock does; values locked with another scheme are left as
// they are (so is everything when k is nil: OpenWhisk's no-op encryption). The message is changed only when
// every value decrypts; otherwise the error wraps ErrLocked and names the parameter, never its value.
func (m *ActivationMessage) Unlock(k *ParameterKey) error {
	if k == nil || len(m.LockedArgs) == 0 {
		return nil
	}
	fields := m.contentFields()
	if fields == nil {
		return nil
	}
	changed := false
	for name, scheme := range m.LockedArgs {
		raw, ok := fields[name]
		block := k.block(scheme)
		if !ok || block == nil {
			continue
		}
		var locked string
		if err := json.Unmarshal(raw, &locked); err != nil {
			return fmt.Errorf("%w: %q: the locked value is not a string", ErrLocked, name)
		}
		plain, err := decrypt(block, locked)
		if err != nil {
			return fmt.Errorf("%w: %q (%s): %v", ErrLocked, name, scheme, err)
		}
		if fields[name], err = MarshalNoEscape(plain); err != nil {
			return fmt.Errorf("%w: %q: %v", ErrLocked, name, err)
		}
		changed = true
	}
	if !changed {
		return nil
	}
	content, err := MarshalNoEscape(fields)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLocked, err)
	}
	m.Content = content
	return nil
}
