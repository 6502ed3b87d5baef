# %preun of the kronyd RPM: on erase ($1 is 0), stop and unregister the service.
if [ "$1" -eq 0 ]; then
    if [ -d /run/systemd/system ]; then
        systemctl --no-reload disable --now kronyd.service >/dev/null 2>&1 || :
    else
        service kronyd stop >/dev/null 2>&1 || :
        chkconfig --del kronyd >/dev/null 2>&1 || :
    fi
fi
exit 0
