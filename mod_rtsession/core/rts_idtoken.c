/* PLACEHOLDER */
#include "rts.h"
