# Copies quorate.proto (IN) to OUT with `optimize_for = LITE_RUNTIME`: libquorate-client's messages
# then register nothing in protobuf's descriptor pool, where a second full copy would abort.
file(READ ${IN} text)
string(REGEX REPLACE "(\npackage [^;]+;)" "\\1\noption optimize_for = LITE_RUNTIME;" lite "${text}")
if(lite STREQUAL text)
  message(FATAL_ERROR "lite_proto.cmake: no package line in ${IN}")
endif()
file(WRITE ${OUT} "${lite}")
