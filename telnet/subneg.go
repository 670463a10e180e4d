package telnet

// maxTerminalType is the longest terminal type kept: RFC 1091 names are
// at most 40 characters.
const maxTerminalType = 40

// parseTerminalType returns the terminal type of TERMINAL-TYPE IS, in
// upper case as RFC 1091 sends it, with anything but printable ASCII
// dropped and at most 40 characters kept.
func parseTerminalType(p []byte) string {
	b := make([]byte, 0, min(len(p), maxTerminalType))
	for _, c := range p {
		if len(b) == maxTerminalType {
			break
		}
		if c > ' ' && c < 0x7f {
			b = append(b, c)
		}
	}
	return string(b)
}

// parseEnviron parses the list of NEW-ENVIRON IS or INFO (RFC 1572 §2):
// VAR or USERVAR, a name, then VALUE and a value or not, with ESC quoting
// the octet after it. Octets before the first VAR or USERVAR are dropped.
// A variable named twice keeps its last value.
func parseEnviron(p []byte) []EnvVar {
	var vars []EnvVar
	var cur *EnvVar
	inValue := false
	var field []byte
	flush := func() {
		if cur == nil {
			return
		}
		if inValue {
			cur.Value = string(field)
		} else {
			cur.Name = string(field)
		}
	}
	for i := 0; i < len(p); i++ {
		b := p[i]
		switch b {
		case envVAR, envUSERVAR:
			flush()
			vars = append(vars, EnvVar{User: b == envUSERVAR})
			cur = &vars[len(vars)-1]
			inValue = false
			field = field[:0]
		case envVALUE:
			if cur == nil {
				continue
			}
			flush()
			cur.Defined = true
			inValue = true
			field = field[:0]
		case envESC:
			if i+1 < len(p) {
				i++
				field = append(field, p[i])
			}
		default:
			field = append(field, b)
		}
	}
	flush()
	return mergeEnviron(nil, vars)
}

// mergeEnviron returns old updated with vars, as NEW-ENVIRON INFO does.
func mergeEnviron(old, vars []EnvVar) []EnvVar {
	for _, v := range vars {
		found := false
		for i := range old {
			if old[i].Name == v.Name && old[i].User == v.User {
				old[i] = v
				found = true
				break
			}
		}
		if !found {
			old = append(old, v)
		}
	}
	return old
}
