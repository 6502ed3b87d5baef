# %post of the kronyd RPM: kronyd's directories, and the service registered (not
# started: on RPM systems the admin runs `systemctl enable --now kronyd`, or
# `chkconfig kronyd on; service kronyd start` without systemd). $1 is 1 on install.
install -d -m 0750 -o _krony -g _krony /var/lib/krony /var/log/krony
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        # Applies the distribution's preset policy, as %systemd_post does.
        systemctl --no-reload preset kronyd.service >/dev/null 2>&1 || :
    fi
elif [ -x /sbin/chkconfig ] || [ -x /usr/sbin/chkconfig ]; then
    chkconfig --add kronyd || :
fi
exit 0
