package store

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Config locates CouchDB and names the three databases the invoker uses.
type Config struct {
	// Protocol is "http" or "https". Required.
	Protocol string
	// Host is the CouchDB host name or address. Required.
	Host string
	// Port is the CouchDB port (1..65535). Required.
	Port int
	// Username and Password are the Basic-auth credentials sent on every request. Username is required;
	// an empty password is allowed.
	Username, Password string
	// WhisksDB holds action documents (whisk.couchdb.databases.WhiskEntity, e.g. "local_whisks").
	WhisksDB string
	// ActivationsDB receives activation records (whisk.couchdb.databases.WhiskActivation).
	ActivationsDB string
	// SubjectsDB holds identities and the namespaceThrottlings design document (whisk.couchdb.databases.WhiskAuth).
	SubjectsDB string
}

// Environment variables of OpenWhisk deployments that carry the CouchDB settings (OpenWhisk's CONFIG_*
// convention; invoker/config reads them); validation errors name them.
const (
	EnvProtocol      = "CONFIG_whisk_couchdb_protocol"
	EnvHost          = "CONFIG_whisk_couchdb_host"
	EnvPort          = "CONFIG_whisk_couchdb_port"
	EnvUsername      = "CONFIG_whisk_couchdb_username"
	EnvPassword      = "CONFIG_whisk_couchdb_password"
	EnvWhisksDB      = "CONFIG_whisk_couchdb_databases_WhiskEntity"
	EnvActivationsDB = "CONFIG_whisk_couchdb_databases_WhiskActivation"
	EnvSubjectsDB    = "CONFIG_whisk_couchdb_databases_WhiskAuth"
	EnvDBPrefix      = "DB_PREFIX"
)

// ConfigFromURL builds a Config from a URL such as "http://nemo:nemo@127.0.0.1:5984" (the NEMO_COUCHDB form)
// and a database-name prefix ("local_" gives local_whisks, local_activations, local_subjects).
func ConfigFromURL(raw, dbPrefix string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("%w: couchdb url %q: %v", ErrInvalid, raw, err)
	}
	cfg := Config{
		Protocol:      strings.ToLower(u.Scheme),
		Host:          u.Hostname(),
		WhisksDB:      dbPrefix + "whisks",
		ActivationsDB: dbPrefix + "activations",
		SubjectsDB:    dbPrefix + "subjects",
	}
	if u.User != nil {
		cfg.Username = u.User.Username()
		cfg.Password, _ = u.User.Password()
	}
	switch p := u.Port(); {
	case p != "":
		cfg.Port, err = strconv.Atoi(p)
		if err != nil {
			return Config{}, fmt.Errorf("%w: couchdb url %q: bad port", ErrInvalid, raw)
		}
	case cfg.Protocol == "https":
		cfg.Port = 443
	default:
		cfg.Port = 5984
	}
	if err := cfg.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// validate names the environment variable that carries each field, so env-sourced errors read well.
func (c Config) validate() error {
	switch {
	case c.Protocol != "http" && c.Protocol != "https":
		return fmt.Errorf("%w: %s=%q must be http or https", ErrInvalid, EnvProtocol, c.Protocol)
	case c.Host == "":
		return fmt.Errorf("%w: %s is not set", ErrInvalid, EnvHost)
	case strings.ContainsAny(c.Host, "/?#@ "):
		return fmt.Errorf("%w: %s=%q is not a host name", ErrInvalid, EnvHost, c.Host)
	case c.Port < 1 || c.Port > 65535:
		return fmt.Errorf("%w: %s=%d is not a port number", ErrInvalid, EnvPort, c.Port)
	case c.Username == "":
		return fmt.Errorf("%w: %s is not set", ErrInvalid, EnvUsername)
	}
	for _, db := range []struct{ env, name string }{
		{EnvWhisksDB, c.WhisksDB}, {EnvActivationsDB, c.ActivationsDB}, {EnvSubjectsDB, c.SubjectsDB},
	} {
		if err := validDBName(db.name); err != nil {
			return fmt.Errorf("%w: %s=%q: %v", ErrInvalid, db.env, db.name, err)
		}
	}
	return nil
}

// validDBName applies CouchDB's database-name rule: ^[a-z][a-z0-9_$()+/-]*$.
func validDBName(name string) error {
	if name == "" {
		return fmt.Errorf("empty database name")
	}
	if name[0] < 'a' || name[0] > 'z' {
		return fmt.Errorf("database name must start with a lowercase letter")
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', strings.ContainsRune("_$()+-/", r):
		default:
			return fmt.Errorf("database name has invalid character %q", r)
		}
	}
	return nil
}

// baseURL is "<protocol>://<host>:<port>".
func (c Config) baseURL() string {
	host := c.Host
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") { // IPv6 literal
		host = "[" + host + "]"
	}
	return c.Protocol + "://" + host + ":" + strconv.Itoa(c.Port)
}
