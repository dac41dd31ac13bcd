package wire

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedFixture is one value locked by the JDK (testdata/locked/Lock.java).
type lockedFixture struct {
	Key       string `json:"key"`
	Plaintext string `json:"plaintext"`
	Locked    string `json:"locked"`
}

func lockedFixtures(t *testing.T) map[string]lockedFixture {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "locked", "locked.json"))
	require.NoError(t, err)
	var f map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &f))
	out := map[string]lockedFixture{}
	for _, scheme := range []string{"aes128", "aes256"} {
		var l lockedFixture
		require.NoError(t, json.Unmarshal(f[scheme], &l))
		out[scheme] = l
	}
	return out
}

func lockedMessage(t *testing.T, locked, scheme string) *ActivationMessage {
	t.Helper()
	content, err := json.Marshal(map[string]string{"password": locked, "user": "bob"})
	require.NoError(t, err)
	return &ActivationMessage{Content: content, LockedArgs: map[string]string{"password": scheme}}
}

func contentOf(t *testing.T, m *ActivationMessage) map[string]string {
	t.Helper()
	var c map[string]string
	require.NoError(t, json.Unmarshal(m.Content, &c))
	return c
}

func TestUnlockDecryptsValuesLockedByTheJDK(t *testing.T) {
	for scheme, fx := range lockedFixtures(t) {
		for _, spelling := range []string{scheme, scheme[:3] + "-" + scheme[3:]} {
			t.Run(spelling, func(t *testing.T) {
				k, err := NewParameterKey(fx.Key)
				require.NoError(t, err)
				assert.Equal(t, scheme, k.Scheme())
				m := lockedMessage(t, fx.Locked, spelling)
				require.NoError(t, m.Unlock(k))
				c := contentOf(t, m)
				assert.Equal(t, fx.Plaintext, c["password"])
				assert.Equal(t, "bob", c["user"], "unlocked parameters are untouched")
				assert.Equal(t, fx.Plaintext, contentOf(t, &ActivationMessage{Content: m.RunValue()})["password"],
					"the /run value carries the decrypted parameter")
			})
		}
	}
}

func TestUnlockLeavesValuesItCannotOwn(t *testing.T) {
	fx := lockedFixtures(t)
	k256, err := NewParameterKey(fx["aes256"].Key)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		key *ParameterKey
		msg *ActivationMessage
	}{
		"no key configured (OpenWhisk's no-op encryption)": {nil, lockedMessage(t, fx["aes128"].Locked, "aes128")},
		"locked with another scheme":                       {k256, lockedMessage(t, fx["aes128"].Locked, "aes128")},
		"named but absent from the content":                {k256, &ActivationMessage{Content: json.RawMessage(`{"a":1}`), LockedArgs: map[string]string{"b": "aes256"}}},
		"array content":                                    {k256, &ActivationMessage{Content: json.RawMessage(`[1,2]`), LockedArgs: map[string]string{"b": "aes256"}}},
	} {
		t.Run(name, func(t *testing.T) {
			before := string(tc.msg.Content)
			require.NoError(t, tc.msg.Unlock(tc.key))
			assert.Equal(t, before, string(tc.msg.Content))
		})
	}
}

func TestUnlockFailuresKeepTheMessageAndTheSecret(t *testing.T) {
	fx := lockedFixtures(t)["aes128"]
	otherKey, err := NewParameterKey(base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")))
	require.NoError(t, err)
	right, err := NewParameterKey(fx.Key)
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(fx.Locked)
	require.NoError(t, err)
	raw[len(raw)-1] ^= 1
	tampered := base64.StdEncoding.EncodeToString(raw)
	for name, tc := range map[string]struct {
		key    *ParameterKey
		locked string
	}{
		"another key of the same size": {otherKey, fx.Locked},
		"tampered ciphertext":          {right, tampered},
		"not base64":                   {right, "%%%"},
		"too short":                    {right, "AAA="},
		"IV length beyond the value":   {right, base64.StdEncoding.EncodeToString([]byte{0, 0, 1, 0, 1, 2})},
	} {
		t.Run(name, func(t *testing.T) {
			m := lockedMessage(t, tc.locked, "aes128")
			before := string(m.Content)
			err := m.Unlock(tc.key)
			require.ErrorIs(t, err, ErrLocked)
			assert.Contains(t, err.Error(), `"password"`, "the error names the parameter")
			assert.NotContains(t, err.Error(), fx.Plaintext)
			assert.False(t, strings.Contains(err.Error(), tc.locked) && len(tc.locked) > 8, "nor quotes the locked value")
			assert.Equal(t, before, string(m.Content), "nothing changed")
		})
	}
	m := &ActivationMessage{Content: json.RawMessage(`{"password":42}`), LockedArgs: map[string]string{"password": "aes128"}}
	require.ErrorIs(t, m.Unlock(right), ErrLocked, "a locked value must be a string")
}

func TestNewParameterKeyRejectsBadKeys(t *testing.T) {
	for _, key := range []string{"not base64!", base64.StdEncoding.EncodeToString(make([]byte, 24)), ""} {
		_, err := NewParameterKey(key)
		assert.Error(t, err, "key %q", key)
	}
}

// OpenWhisk configures aes-128 and aes-256 side by side; each locked value is opened with the key of the
// scheme its lockedArgs entry names.
func TestUnlockWithBothKeysOpensEachScheme(t *testing.T) {
	fx := lockedFixtures(t)
	k, err := NewParameterKeys(fx["aes128"].Key, fx["aes256"].Key)
	require.NoError(t, err)
	assert.Equal(t, "aes128+aes256", k.Scheme())
	content, err := json.Marshal(map[string]string{"a": fx["aes128"].Locked, "b": fx["aes256"].Locked})
	require.NoError(t, err)
	m := &ActivationMessage{Content: content, LockedArgs: map[string]string{"a": "aes-128", "b": "aes-256"}}
	require.NoError(t, m.Unlock(k))
	c := contentOf(t, m)
	assert.Equal(t, fx["aes128"].Plaintext, c["a"])
	assert.Equal(t, fx["aes256"].Plaintext, c["b"])
}

func TestNewParameterKeysRefusesAKeyOfTheWrongSize(t *testing.T) {
	fx := lockedFixtures(t)
	_, err := NewParameterKeys(fx["aes256"].Key, "")
	require.ErrorContains(t, err, "aes-128: parameter key: 32 bytes, want 16")
	_, err = NewParameterKeys("", fx["aes128"].Key)
	require.ErrorContains(t, err, "aes-256: parameter key: 16 bytes, want 32")
	_, err = NewParameterKeys("", "")
	require.ErrorContains(t, err, "none given")
}
