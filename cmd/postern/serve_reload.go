package main

import "reflect"

// reload is SIGHUP: re-read the configuration file and the accounts
// files. The log level and the certificate files apply at once; a change
// to anything else is reported as needing a restart. A file that no
// longer validates is reported and the running configuration kept.
func (p *process) reload() {
	p.log.Info("SIGHUP: reloading")
	if p.dir != nil {
		if err := p.dir.Reload(); err != nil {
			p.log.Error("reloading accounts", "err", err)
		}
	}
	if p.certs != nil && p.certs.files != nil {
		p.certs.files.reload()
	}
	if p.configPath == "" {
		return
	}
	next, err := loadConfig(p.configPath)
	if err != nil {
		p.log.Error("config not reloaded; keeping the running one", "err", err)
		return
	}
	if l, err := parseLevel(next.Log.Level); err == nil {
		p.level.Set(l)
	}
	applied := p.cfg
	applied.Log.Level = next.Log.Level
	if !reflect.DeepEqual(applied, next) {
		p.log.Warn("config changed beyond log.level; restart postern to apply the rest")
	}
	p.cfg.Log.Level = next.Log.Level
	p.log.Info("reloaded", "log_level", next.Log.Level)
}
