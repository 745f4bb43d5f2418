<?php
// The app's service provider: one saml:SP. ForceAuthn and IsPassive are set
// per case.
$config = [
    'admin' => ['core:AdminPassword'],
    'app-sp' => [
        'saml:SP',
        'entityID' => 'https://@APP_HOST@:8443/sp',
        'idp' => 'https://idp.saml.test:8443/simplesaml/saml2/idp/metadata.php',
        'ForceAuthn' => @FORCE_AUTHN@,
        'IsPassive' => @IS_PASSIVE@,
    ],
];
