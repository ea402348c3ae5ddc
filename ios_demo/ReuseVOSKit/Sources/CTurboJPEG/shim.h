// libjpeg-turbo's TurboJPEG API: JPEG frames on Linux (libturbojpeg0-dev). Apple platforms use ImageIO.
#include <turbojpeg.h>
