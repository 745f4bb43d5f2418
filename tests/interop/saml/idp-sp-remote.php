<?php
// metadata/saml20-sp-remote.php of the IdP: the app it signs users in to.
$metadata['https://@APP_HOST@:8443/sp'] = [
    'AssertionConsumerService' => [
        [
            'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
            'Location' => 'https://@APP_HOST@:8443/simplesaml/module.php/saml/sp/saml2-acs.php/app-sp',
        ],
    ],
    'SingleLogoutService' => [
        [
            'Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
            'Location' => 'https://@APP_HOST@:8443/simplesaml/module.php/saml/sp/saml2-logout.php/app-sp',
        ],
    ],
];
