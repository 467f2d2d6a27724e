# cmake -DIN=file -DOUT=file.inc -P embed.cmake: IN's bytes as a C
# initializer list ("0x23,0x20,..."), to #include inside an array.
file(READ ${IN} _hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," _hex "${_hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" _hex "${_hex}")
file(WRITE ${OUT} "${_hex}\n")
