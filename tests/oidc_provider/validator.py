from oauth2_provider.oauth2_validators import OAuth2Validator

# Each test user's groups, by username (the provider's own notion; the app maps one to staff).
GROUPS = {"carol": ["chat-admins", "everyone"], "erin": ["everyone"]}


class Validator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "groups": "profile"}

    def get_additional_claims(self, request):
        user = request.user
        return {
            "email": user.email,
            "email_verified": True,
            "preferred_username": user.username,
            "given_name": user.first_name,
            "groups": GROUPS.get(user.username, []),
        }
