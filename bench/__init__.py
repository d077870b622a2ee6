"""``make bench``: exposcan against nmap 7.93 on the same targets, same run."""
