package hcert

import (
	"fmt"
	"time"
)

// ParseDate parses the date part of a schema date field. Issuers put full
// date-times into date fields (PL, BG vectors); the leading YYYY-MM-DD is the
// date, and what follows must be a 'T' or space starting a time.
func ParseDate(s string) (time.Time, error) {
	if len(s) < 10 || len(s) > 10 && s[10] != 'T' && s[10] != 't' && s[10] != ' ' {
		return time.Time{}, fmt.Errorf("not a YYYY-MM-DD date")
	}
	t, err := time.Parse(time.DateOnly, s[:10])
	if err != nil {
		return time.Time{}, fmt.Errorf("not a valid calendar date")
	}
	return t, nil
}

// ParseDateTime parses a date-time the way DCCs and their test data write
// them: any number of fractional digits, and the offset as Z, ±hh:mm, ±hhmm
// or ±hh (the last two are in the schema's own valid test cases; Go's RFC3339
// layout refuses them). A date-time without an offset
// ("2021-05-30T13:38:49.822623", as NL, GE and VA write validation clocks) is
// read as UTC. Tag-0 strings arrive here already untagged.
func ParseDateTime(s string) (time.Time, error) { return parseDateTime(s, false) }

// ParseZonedDateTime is ParseDateTime for input that must name its offset
// (issuance is strict: a sample time without a zone is ambiguous by hours).
func ParseZonedDateTime(s string) (time.Time, error) { return parseDateTime(s, true) }

func parseDateTime(s string, zoneRequired bool) (time.Time, error) {
	const base = len("2006-01-02T15:04:05")
	if len(s) < base || s[10] != 'T' && s[10] != 't' && s[10] != ' ' {
		return time.Time{}, fmt.Errorf("not an RFC 3339 date-time")
	}
	i := base
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == base+1 {
			return time.Time{}, fmt.Errorf("empty fraction of a second")
		}
	}
	frac := s[base:i]
	zone := s[i:]
	switch {
	case zone == "" && !zoneRequired:
		zone = "Z"
	case zone == "Z" || zone == "z":
		zone = "Z"
	case len(zone) == 3 && isSign(zone[0]) && isDigits(zone[1:]):
		zone += ":00"
	case len(zone) == 5 && isSign(zone[0]) && isDigits(zone[1:]):
		zone = zone[:3] + ":" + zone[3:]
	case len(zone) == 6 && isSign(zone[0]) && isDigits(zone[1:3]) && zone[3] == ':' && isDigits(zone[4:]):
	default:
		return time.Time{}, fmt.Errorf("time zone offset missing or malformed")
	}
	t, err := time.Parse(time.RFC3339Nano, s[:10]+"T"+s[11:base]+frac+zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a valid date-time")
	}
	return t, nil
}

func isSign(c byte) bool { return c == '+' || c == '-' }

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
