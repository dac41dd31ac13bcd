package wire

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrLocked: a parameter value named in lockedArgs could not be decrypted (corrupt, or locked with another key).
var ErrLocked = errors.New("wire: locked parameter")

// ParameterKey is OpenWhisk's parameter-storage key (whisk.parameter-storage.key, base64): 16 bytes lock
// parameters with AES-128-GCM, 32 with AES-256-GCM. The controller encrypts the parameters an action
// stores; the invoker decrypts the ones an activation message names in lockedArgs (ParameterEncryption).
type ParameterKey struct {
	scheme string // "aes128" | "aes256", as lockedArgs names it
	block  cipher.Block
}

// NewParameterKey decodes a base64 key of 16 or 32 bytes.
func NewParameterKey(b64 string) (*ParameterKey, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("parameter key: not base64: %w", err)
	}
	var scheme string
	switch len(raw) {
	case 16:
		scheme = "aes128"
	case 32:
		scheme = "aes256"
	default:
		return nil, fmt.Errorf("parameter key: %d bytes, want 16 (AES-128) or 32 (AES-256)", len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, fmt.Errorf("parameter key: %w", err)
	}
	return &ParameterKey{scheme: scheme, block: block}, nil
}

// Scheme is the lockedArgs name of the key's cipher: "aes128" or "aes256".
func (k *ParameterKey) Scheme() string { return k.scheme }

// owns reports whether a lockedArgs scheme name is this key's; the 1.0.0 spelling has a hyphen.
func (k *ParameterKey) owns(scheme string) bool {
	return scheme == k.scheme || scheme == k.scheme[:3]+"-"+k.scheme[3:]
}

// decrypt opens one locked value: base64 of a big-endian int32 IV length, the IV, then the GCM ciphertext
// with its 16-byte tag. The plaintext is the parameter's string value.
func (k *ParameterKey) decrypt(locked string) (string, error) {
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
	aead, err := cipher.NewGCMWithNonceSize(k.block, ivLen)
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
		if !ok || !k.owns(scheme) {
			continue
		}
		var locked string
		if err := json.Unmarshal(raw, &locked); err != nil {
			return fmt.Errorf("%w: %q: the locked value is not a string", ErrLocked, name)
		}
		plain, err := k.decrypt(locked)
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
