variable project_name
set project_name "myproject"
variable backend
set backend "vivadoaccelerator"
variable part
set part "xc7z020clg400-1"
variable clock_period
set clock_period 5
variable clock_uncertainty
set clock_uncertainty 12.5%
set bit_width_hls_output 32
set bit_width_hls_input 32
