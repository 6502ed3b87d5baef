# %pre of the kronyd RPM: the _krony user and group, before the files are installed.
getent group _krony >/dev/null || groupadd -r _krony
if ! getent passwd _krony >/dev/null; then
    shell=/sbin/nologin
    [ -x "$shell" ] || shell=/usr/sbin/nologin
    useradd -r -g _krony -d /var/lib/krony -M -s "$shell" -c "krony NTP daemon" _krony
fi
exit 0
