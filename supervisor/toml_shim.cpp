// placeholder
extern "C" int rs__placeholder_toml;
