"""PyInstaller's QtGui hook minus the Qt plugins a desktop program on X11 or Wayland never
loads: embedded-device platforms and input drivers, and the GTK platform theme (which
would pull GTK, cairo and pango into the bundle; Qt's own style and the XDG desktop
portal theme are used instead)."""
from pathlib import Path

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

UNUSED_PLUGIN_TYPES = {"egldeviceintegrations", "generic"}
UNUSED_PLUGINS = {"libqeglfs.so", "libqlinuxfb.so", "libqminimalegl.so", "libqvkkhrdisplay.so",
                  "libqvnc.so", "libqgtk3.so"}

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(src, dst) for src, dst in binaries
            if Path(dst).name not in UNUSED_PLUGIN_TYPES and Path(src).name not in UNUSED_PLUGINS]
