{#- The z-score of a service level: the inverse of the standard normal CDF, Phi^-1(p).

    Wichura, M. J. (1988) "Algorithm AS 241: The percentage points of the normal distribution",
    Applied Statistics 37(3), 477-484, function PPND16 (accurate to about 1e-16): three rational
    approximations of degree 7, one for |p - 0.5| <= 0.425 in r = 0.180625 - q^2, and two for the
    tails in r = sqrt(-ln(min(p, 1 - p))) (split at r = 5). The result is a plain SQL expression
    (double precision); `service_level` may be a column, a literal or an expression (it is repeated,
    so keep it cheap). NULL outside the open interval (0, 1) and for NULL input. -#}

{% macro horner_polynomial(x, coefficients) -%}
    {#- c0 + c1*x + ... + cn*x^n in Horner form: (((cn * x + cn-1) * x + ...) * x + c0) -#}
    {%- set ns = namespace(expression=coefficients[-1] | string) -%}
    {%- for coefficient in coefficients[:-1] | reverse -%}
        {%- set ns.expression = '(' ~ ns.expression ~ ' * ' ~ x ~ ' + ' ~ coefficient ~ ')' -%}
    {%- endfor -%}
    {{ ns.expression }}
{%- endmacro %}

{% macro service_level_z(service_level) -%}
    {#- coefficients a0..a7 / b0..b7 (central), c/d (intermediate tail), e/f (far tail) -#}
    {%- set a = ['3.3871328727963666080', '133.14166789178437745', '1971.5909503065514427',
                 '13731.693765509461125', '45921.953931549871457', '67265.770927008700853',
                 '33430.575583588128105', '2509.0809287301226727'] -%}
    {%- set b = ['1.0', '42.313330701600911252', '687.18700749205790830', '5394.1960214247511077',
                 '21213.794301586595867', '39307.895800092710610', '28729.085735721942674',
                 '5226.4952788528545610'] -%}
    {%- set c = ['1.42343711074968357734', '4.63033784615654529590', '5.76949722146069140550',
                 '3.64784832476320460504', '1.27045825245236838258', '0.241780725177450611770',
                 '0.0227238449892691845833', '0.000774545014278341407640'] -%}
    {%- set d = ['1.0', '2.05319162663775882187', '1.67638483018380384940', '0.689767334985100004550',
                 '0.148103976427480074590', '0.0151986665636164571966', '0.000547593808499534494600',
                 '1.05075007164441684324e-9'] -%}
    {%- set e = ['6.65790464350110377720', '5.46378491116411436990', '1.78482653991729133580',
                 '0.296560571828504891230', '0.0265321895265761230930', '0.00124266094738807843860',
                 '0.0000271155556874348757815', '2.01033439929228813265e-7'] -%}
    {%- set f = ['1.0', '0.599832206555887937690', '0.136929880922735805310',
                 '0.0148753612908506148525', '0.000786869131145613259100', '0.0000184631831751005468180',
                 '1.42151175831644588870e-7', '2.04426310338993978564e-15'] -%}
    {%- set p = 'cast((' ~ service_level ~ ') as double precision)' -%}
    {%- set q = '(' ~ p ~ ' - 0.5)' -%}
    {#- central region variable -#}
    {%- set r_central = '(0.180625 - ' ~ q ~ ' * ' ~ q ~ ')' -%}
    {#- tail variable; greatest() keeps ln() defined for every input, the CASE below returns NULL -#}
    {%- set r_tail = 'sqrt(-ln(greatest(least(' ~ p ~ ', 1.0 - ' ~ p ~ '), 1e-300)))' -%}
    {%- set r_near = '(' ~ r_tail ~ ' - 1.6)' -%}
    {%- set r_far = '(' ~ r_tail ~ ' - 5.0)' -%}
    (case
        when {{ p }} is null or {{ p }} <= 0.0 or {{ p }} >= 1.0 then null
        when abs({{ q }}) <= 0.425 then
            {{ q }} * {{ horner_polynomial(r_central, a) }} / {{ horner_polynomial(r_central, b) }}
        else sign({{ q }}) * case
            when {{ r_tail }} <= 5.0 then
                {{ horner_polynomial(r_near, c) }} / {{ horner_polynomial(r_near, d) }}
            else
                {{ horner_polynomial(r_far, e) }} / {{ horner_polynomial(r_far, f) }}
        end
    end)
{%- endmacro %}
